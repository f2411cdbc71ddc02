import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Caller } from "../../../lib/identity.ts";
import { FENCES_CHANGED_EVENT, type AlertFired, type FencesChanged } from "../../../services/alerts/contract.ts";
import { RedisFenceState } from "../../../services/geo/fences/redis.state.ts";
import {
	deleteRedisKeys,
	startTestEngine,
	TEST_NATS_URL,
	TEST_REDIS_URL,
	uniqueNamespace,
	waitFor,
	type TestEngine,
} from "../../helpers/engine.ts";
import { eventRecorder } from "../../helpers/event-recorder.ts";
import { drive, LIVE_WINDOW_S, loadedFences, square, vendorClock } from "../../helpers/fence-drive.ts";
import { fence, fenceStateSuite, MITTE, offset } from "../../helpers/fences.ts";

const stateNamespace = uniqueNamespace("fence-state");
fenceStateSuite("redis", () => new RedisFenceState(TEST_REDIS_URL, `${stateNamespace}:geo:`, 60_000));
afterAll(() => deleteRedisKeys(`${stateNamespace}:*`));

describe("two geo replicas on Redis", () => {
	const ns = uniqueNamespace("fence-takeover");
	const engines: TestEngine[] = [];
	afterAll(async () => {
		await Promise.all(engines.map(e => e.stop().catch(() => undefined)));
		await deleteRedisKeys(`${ns}:*`);
	});

	it("the replica that takes over keeps the state: no second enter, the exit fires once, from it", async () => {
		const recorder = eventRecorder(["location.proximity_alert"]);
		const env = {
			SERVICES: "geo",
			NAMESPACE: ns,
			NATS_URL: TEST_NATS_URL,
			REDIS_URL: TEST_REDIS_URL,
			VENDOR_OFFLINE_AFTER_S: LIVE_WINDOW_S,
		};
		const first = await startTestEngine(env);
		const second = await startTestEngine(env, [recorder.schema]);
		engines.push(first, second);
		const alert = fence({ id: "alr_takeover", on: ["enter", "exit"], shape: { type: "circle", center: MITTE, radius: 300 } });
		const changes: FencesChanged = { upsert: [alert], remove: [] };
		await second.broker.waitForServices("geo", 10_000);
		await waitFor(
			async () => {
				await second.broker.broadcast(FENCES_CHANGED_EVENT, changes);
				return loadedFences(first) === 1 && loadedFences(second) === 1;
			},
			{ what: "both replicas to have the fence", interval: 300 }
		);
		const clock = vendorClock();
		const fired = () => recorder.named<AlertFired>("location.proximity_alert");

		await drive(first, clock, "ven_roamer", [offset(MITTE, 1_000), offset(MITTE, 200)], { nodeID: first.broker.nodeID });
		await waitFor(() => fired().length === 1, { what: "the enter" });
		expect(fired()[0]!.meta.source).toBe(`geo@${first.broker.nodeID}`);
		await first.stop();
		engines.splice(engines.indexOf(first), 1);

		// Inside, in the band, inside again: the second replica knows the vendor is in.
		await drive(second, clock, "ven_roamer", [offset(MITTE, 310), offset(MITTE, 100), offset(MITTE, 320)], { firstAfterS: 61 });
		await new Promise(r => setTimeout(r, 300));
		expect(fired().map(e => e.data.transition)).toEqual(["enter"]);
		await drive(second, clock, "ven_roamer", [offset(MITTE, 400)]);
		await waitFor(() => fired().length === 2, { what: "the exit" });
		expect(fired()[1]).toMatchObject({
			meta: { source: `geo@${second.broker.nodeID}` },
			data: { fenceId: "alr_takeover", transition: "exit", distance: 400 },
		});
	});
});

describe("a geo node started before the alerts service", () => {
	const ns = uniqueNamespace("fence-load");
	const dataDir = mkdtempSync(join(tmpdir(), "venta-fences-"));
	const engines: TestEngine[] = [];
	afterAll(async () => {
		await Promise.all(engines.map(e => e.stop().catch(() => undefined)));
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("starts with no fences, and loads them when alerts joins the mesh", async () => {
		const mesh = { NAMESPACE: ns, NATS_URL: TEST_NATS_URL };
		const alertsEnv = { ...mesh, SERVICES: "alerts", DATA_DIR: dataDir };
		// An alert stored while no geo node listened.
		const before = await startTestEngine(alertsEnv);
		const ana: Caller = { id: "ana", role: "customer" };
		const area = { kind: "area", area: { type: "polygon", points: square(MITTE, 300) }, on: ["enter"] };
		await before.broker.call("alerts.create", area, { meta: { user: ana } });
		await before.stop();

		const recorder = eventRecorder(["location.geofence_triggered"]);
		const geo = await startTestEngine({ ...mesh, SERVICES: "geo", VENDOR_OFFLINE_AFTER_S: LIVE_WINDOW_S }, [recorder.schema]);
		engines.push(geo);
		const clock = vendorClock();
		await drive(geo, clock, "ven_early", [MITTE]);
		expect(loadedFences(geo)).toBe(0);

		engines.push(await startTestEngine(alertsEnv));
		await waitFor(() => loadedFences(geo) === 1, { what: "geo to load the stored fence" });
		await drive(geo, clock, "ven_early", [offset(MITTE, 100)]);
		await waitFor(() => recorder.named("location.geofence_triggered").length === 1, { what: "the area's enter" });
		expect(recorder.named<AlertFired>("location.geofence_triggered")[0]!.data).toMatchObject({
			userId: "ana",
			vendorId: "ven_early",
			transition: "enter",
		});
	});
});
