import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { ALERT_EVENTS } from "../../../gateways/live/alerts.ts";
import { domainEvent, type DomainEvent } from "../../../lib/events.ts";
import { HERE_EVENT, type AlertFired, type HereUpdate } from "../../../services/alerts/contract.ts";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { eventRecorder } from "../../helpers/event-recorder.ts";
import { LiveClient, metricValue } from "../../helpers/live.ts";

const SPOT = { lat: 52.52, lng: 13.405 };
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The envelope geo emits (lib/events.ts) around a fired alert. */
function alertEvent(data: Partial<AlertFired> & Pick<AlertFired, "userId">): DomainEvent<AlertFired> {
	const fired: AlertFired = {
		fenceId: `alr_${randomUUID().slice(0, 8)}`,
		kind: "vendor_nearby",
		vendorId: "ven_test0001",
		transition: "enter",
		distance: 420.5,
		position: { ...SPOT, ts: Date.now() },
		...data,
	};
	return domainEvent("location.proximity_alert", fired, { userId: fired.userId, vendorId: fired.vendorId }, { source: "geo@test" });
}

/** The alert frame a socket must get for `event`. */
const frameOf = ({ meta, data }: DomainEvent<AlertFired>) => ({
	op: "alert",
	eventId: meta.eventId,
	fenceId: data.fenceId,
	kind: data.kind,
	...(data.name === undefined ? {} : { name: data.name }),
	vendorId: data.vendorId,
	transition: data.transition,
	distance: data.distance,
	position: data.position,
});

describe("live gateway: alert frames and shared positions", () => {
	let engine: TestEngine;
	const recorder = eventRecorder([HERE_EVENT]);
	const clients: LiveClient[] = [];
	const heres = () => recorder.events.filter(e => e.name === HERE_EVENT).map(e => e.payload as unknown as HereUpdate);
	const open = async (query = "") => {
		// A socket signed in at the upgrade may be dropped right after open (docs/live-protocol.md): reconnect as a client would.
		const c = query.includes("token=")
			? await LiveClient.openAnswering(`${engine.liveUrl}${query}`)
			: await LiveClient.open(`${engine.liveUrl}${query}`);
		clients.push(c);
		return c;
	};
	/** A socket signed in by its first frame (the SDK's way). */
	const signedIn = async (userId: string) => {
		const c = await open();
		c.send({ op: "auth", token: await engine.token(userId) });
		await c.nextOp("authed");
		return c;
	};
	const alertsSent = async () =>
		metricValue(await (await fetch(`http://127.0.0.1:${engine.config.livePort}/metrics`)).text(), "venta_live_alerts_sent_total") ?? -1;

	beforeAll(async () => {
		// Sign-in (users), snapshots (geo) and the gateway: nothing else is needed here.
		engine = await startTestEngine({ SERVICES: "users,geo,live" }, [recorder.schema]);
	});
	afterAll(async () => {
		for (const c of clients) c.close();
		await engine.stop();
	});

	it("sends an alert to every socket of its user and to no other socket", async () => {
		const first = await open(`?token=${await engine.token("user_alerts_a")}`);
		const second = await signedIn("user_alerts_a");
		const other = await signedIn("user_alerts_b");
		const anonymous = await open();
		const before = await alertsSent();

		const nearby = alertEvent({ userId: "user_alerts_a" });
		await engine.broker.emit(ALERT_EVENTS[0], nearby);
		expect(await first.nextOp("alert")).toEqual(frameOf(nearby));
		expect(await second.nextOp("alert")).toEqual(frameOf(nearby));

		const area = alertEvent({ userId: "user_alerts_a", kind: "area", name: "Market", transition: "exit", distance: 0 });
		await engine.broker.emit(ALERT_EVENTS[1], area);
		expect(await first.nextOp("alert")).toEqual(frameOf(area));
		expect(await second.nextOp("alert")).toEqual(frameOf(area));

		// A zone's event has no user: nobody is told. B's own alert reaches B only, after A's two.
		await engine.broker.emit(ALERT_EVENTS[1], alertEvent({ userId: null, kind: "zone", name: "No vending" }));
		const forB = alertEvent({ userId: "user_alerts_b" });
		await engine.broker.emit(ALERT_EVENTS[0], forB);
		expect(await other.nextOp("alert")).toEqual(frameOf(forB));
		await sleep(200);
		expect(other.frames.filter(f => f.op === "alert")).toHaveLength(1);
		expect(first.frames.filter(f => f.op === "alert")).toHaveLength(2);
		expect(second.frames.filter(f => f.op === "alert")).toHaveLength(2);
		expect(anonymous.frames).toEqual([]);
		await waitFor(async () => (await alertsSent()) === before + 5, { what: "venta_live_alerts_sent_total + 5" });

		// A closed socket leaves the user's set; the other one still gets the user's alerts.
		first.close();
		await first.closed();
		const later = alertEvent({ userId: "user_alerts_a" });
		await engine.broker.emit(ALERT_EVENTS[0], later);
		expect(await second.nextOp("alert")).toEqual(frameOf(later));
		second.close();
		other.close();
	});

	it("takes `here` from signed-in sockets only, validated, and tells geo, never the watchers", async () => {
		const anonymous = await open();
		anonymous.send({ op: "here", ...SPOT });
		expect(await anonymous.nextOp("error")).toMatchObject({ code: "UNAUTHORIZED" });

		const watcher = await open();
		await watcher.watch({ cells: [latLngToCell(SPOT.lat, SPOT.lng, engine.config.h3Res)] });
		const customer = await signedIn("user_here_a");
		customer.send({ op: "here", lat: 91, lng: SPOT.lng });
		expect(await customer.nextOp("error")).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("lat") });
		customer.send({ op: "here", lat: SPOT.lat, lng: "east" });
		expect(await customer.nextOp("error")).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("lng") });
		expect(heres()).toEqual([]);

		customer.send({ op: "here", ...SPOT });
		await waitFor(() => heres().length === 1, { what: "a HERE_EVENT" });
		expect(heres()).toEqual([{ userId: "user_here_a", at: SPOT }]);

		// Within the second: held, and only the latest goes at the end of it.
		const moved = { lat: SPOT.lat + 0.001, lng: SPOT.lng };
		const last = { lat: SPOT.lat + 0.002, lng: SPOT.lng };
		customer.send({ op: "here", ...moved });
		customer.send({ op: "here", ...last });
		await sleep(300);
		expect(heres()).toHaveLength(1);
		await waitFor(() => heres().length === 2, { timeout: 5_000, what: "the held position" });
		expect(heres()[1]).toEqual({ userId: "user_here_a", at: last });

		// Stop sharing: geo forgets it at once. Sharing again, then the user's last socket closes: forgotten too.
		customer.send({ op: "here", stop: true });
		await waitFor(() => heres().length === 3, { what: "at: null after stop" });
		expect(heres()[2]).toEqual({ userId: "user_here_a", at: null });
		await sleep(1_100);
		customer.send({ op: "here", ...SPOT });
		await waitFor(() => heres().length === 4, { what: "sharing again" });
		customer.close();
		await waitFor(() => heres().length === 5, { what: "at: null after the last socket closed" });
		expect(heres()[4]).toEqual({ userId: "user_here_a", at: null });

		// Nothing of it reached the watcher of that very cell.
		await sleep(200);
		expect(watcher.frames.filter(f => f.op !== "snapshot")).toEqual([]);
		watcher.close();
		anonymous.close();
	});

	it("keeps sharing while another socket of the user shares: at: null only when none does", async () => {
		const phone = await signedIn("user_here_b");
		const laptop = await signedIn("user_here_b");
		const count = () => heres().filter(h => h.userId === "user_here_b").length;
		phone.send({ op: "here", ...SPOT });
		laptop.send({ op: "here", ...SPOT });
		await waitFor(() => count() === 2, { what: "both sockets' positions" });
		phone.close();
		await phone.closed();
		await sleep(300);
		expect(count()).toBe(2);
		laptop.close();
		await waitFor(() => count() === 3, { what: "at: null" });
		expect(heres().filter(h => h.userId === "user_here_b")[2]).toEqual({ userId: "user_here_b", at: null });
	});
});
