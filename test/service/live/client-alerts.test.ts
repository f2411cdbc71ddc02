import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERT_EVENTS } from "../../../gateways/live/alerts.ts";
import type { LiveHub } from "../../../gateways/live/hub.ts";
import { domainEvent } from "../../../lib/events.ts";
import { HERE_EVENT, type AlertFired, type HereUpdate } from "../../../services/alerts/contract.ts";
import { connect, type AlertFrame, type LiveClient, type StateChange } from "../../../packages/client/src/index.ts";
import { CLOSE_CODES } from "../../../packages/client/src/protocol/codes.ts";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { eventRecorder } from "../../helpers/event-recorder.ts";

const USER = "user_sdk_alerts";
const SPOT = { lat: 52.52, lng: 13.405 };

/** The SDK's live client against one real engine: the `alert` event, and sharing the user's position. */
describe("@venta/client alerts and shareHere", () => {
	let engine: TestEngine;
	let live: LiveClient;
	const recorder = eventRecorder([HERE_EVENT]);
	const heres = () => recorder.events.filter(e => e.name === HERE_EVENT).map(e => e.payload as unknown as HereUpdate);
	const alerts: AlertFrame[] = [];
	const states: StateChange[] = [];
	const errors: string[] = [];
	const emitAlert = async () => {
		const data: AlertFired = {
			fenceId: "alr_sdk00001",
			kind: "area",
			userId: USER,
			vendorId: "ven_sdk00001",
			transition: "enter",
			distance: 0,
			position: { ...SPOT, ts: Date.now() },
		};
		const event = domainEvent(ALERT_EVENTS[1], data, { userId: USER }, { source: "geo@test" });
		await engine.broker.emit(ALERT_EVENTS[1], event);
		return event;
	};

	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "users,geo,live" }, [recorder.schema]);
	});
	afterAll(async () => {
		await live?.close();
		await engine.stop();
	});

	it("emits `alert`, and sends the shared position once signed in, again after a reconnect, until stopSharing()", async () => {
		live = connect({ url: engine.liveUrl, getToken: () => engine.token(USER), backoff: { initialMs: 50 } });
		live.on("alert", a => alerts.push(a));
		live.on("state", s => states.push(s));
		live.on("error", e => errors.push(e.code));
		// Asked before the socket is even open: it goes once the server has signed the socket in.
		live.shareHere(SPOT.lat, SPOT.lng);
		await waitFor(() => heres().length === 1, { what: "the shared position" });
		expect(heres()).toEqual([{ userId: USER, at: SPOT }]);

		const first = await emitAlert();
		await waitFor(() => alerts.length === 1, { what: "the alert event" });
		const { fenceId, kind, vendorId, transition, distance, position } = first.data;
		expect(alerts[0]).toEqual({ op: "alert", eventId: first.meta.eventId, fenceId, kind, vendorId, transition, distance, position });

		// The node restarts under the client (4000): the server forgets the position with the socket,
		// the client reconnects, signs in and shares it again without being asked.
		(engine.broker.getLocalService("live") as unknown as { hub: LiveHub }).hub.closeUser(USER, CLOSE_CODES.RECONNECT, "restarting");
		await waitFor(() => heres().length === 3, { what: "the position shared again after the reconnect" });
		expect(heres().slice(1)).toEqual([
			{ userId: USER, at: null },
			{ userId: USER, at: SPOT },
		]);
		expect(states.map(s => s.state)).toEqual(["open", "reconnecting", "open"]);
		const second = await emitAlert();
		await waitFor(() => alerts.length === 2, { what: "an alert on the new socket" });
		expect(alerts[1]?.eventId).toBe(second.meta.eventId);

		live.stopSharing();
		await waitFor(() => heres().length === 4, { what: "at: null after stopSharing" });
		expect(heres()[3]).toEqual({ userId: USER, at: null });
		// The position never went ahead of the sign-in (the server would have refused it).
		expect(errors).toEqual([]);
	});
});
