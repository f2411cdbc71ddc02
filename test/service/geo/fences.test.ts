import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DomainEvent } from "../../../lib/events.ts";
import { HERE_EVENT, type AlertFired, type HereUpdate } from "../../../services/alerts/contract.ts";
import { ALERT_METRICS } from "../../../services/geo/alerting.ts";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { eventRecorder } from "../../helpers/event-recorder.ts";
import { drive, LIVE_WINDOW_S, loadedFences, MARKET, square, vendorClock } from "../../helpers/fence-drive.ts";
import { MITTE, offset } from "../../helpers/fences.ts";
import { restClient, waitForMarketplaceRoutes } from "../../helpers/rest.ts";

describe("fences on the live stream: the embedded engine, state in memory", () => {
	const recorder = eventRecorder(["location.proximity_alert", "location.geofence_triggered"]);
	const fired = (name: "location.proximity_alert" | "location.geofence_triggered") => recorder.named<AlertFired>(name);
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	let taco: string;
	let coffee: string;
	let alertId: string;
	let areaId: string;
	let zoneId: string;
	const clock = vendorClock();

	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api,users,vendors,alerts,geo", VENDOR_OFFLINE_AFTER_S: LIVE_WINDOW_S }, [recorder.schema]);
		api = restClient(engine.baseUrl);
		await waitForMarketplaceRoutes(engine.baseUrl);
		const owner = await engine.token("owner_1");
		const vendor = async (name: string, categories: string[]) => {
			const { id } = (await api.post("/api/vendors", { name }, owner)).body;
			await api.patch(`/api/vendors/${id}`, { categories }, owner);
			expect((await api.post(`/api/vendors/${id}/status`, { status: "active" }, owner)).status).toBe(200);
			return id as string;
		};
		taco = await vendor("Taco Truck", ["tacos"]);
		coffee = await vendor("Coffee Cart", ["coffee"]);
		const ana = await engine.token("ana");
		alertId = (await api.post("/api/me/alerts", { kind: "vendor_nearby", vendor: { id: taco }, radius: 300, at: MITTE }, ana)).body.id;
		const area = {
			kind: "area",
			filter: { categories: ["coffee"] },
			area: { type: "polygon", points: square(MITTE, 400) },
			on: ["enter", "exit"],
		};
		areaId = (await api.post("/api/me/alerts", area, await engine.token("ben"))).body.id;
		const admin = await engine.token("root");
		await api.get("/api/me", admin);
		await engine.broker.call("users.setRole", { id: "root", role: "admin" }, AS_OPERATOR);
		const zone = { name: "Market square", points: square(MARKET, 200), on: ["enter", "exit", "dwell"], dwellS: 120 };
		zoneId = (await api.post("/api/zones", zone, admin)).body.id;
		await waitFor(() => loadedFences(engine) === 3, { what: "geo to have the three fences" });
	});
	afterAll(() => engine?.stop());

	it("a vendor_nearby alert fires location.proximity_alert once for a vendor that jitters on its border", async () => {
		await drive(engine, clock, taco, [offset(MITTE, 2_000), offset(MITTE, 800)]);
		// In at 290 m, then GPS jitter between 290 and 320 m (the exit is beyond 330 m), for minutes.
		await drive(
			engine,
			clock,
			taco,
			[290, 315, 295, 320, 292, 318].map(m => offset(MITTE, m))
		);
		await drive(
			engine,
			clock,
			taco,
			[290, 315, 295, 320, 292, 318].map(m => offset(MITTE, m)),
			{ firstAfterS: 90 }
		);
		await waitFor(() => fired("location.proximity_alert").length > 0, { what: "the proximity alert" });
		await new Promise(r => setTimeout(r, 200));
		const events = fired("location.proximity_alert");
		expect(events).toHaveLength(1);
		const [event] = events as [DomainEvent<AlertFired>];
		expect(event.context).toEqual({ vendorId: taco, userId: "ana" });
		expect(event.meta).toMatchObject({ domain: "location", subdomain: "proximity", source: expect.stringMatching(/^geo@/) });
		expect(event.data).toMatchObject({
			fenceId: alertId,
			kind: "vendor_nearby",
			userId: "ana",
			vendorId: taco,
			transition: "enter",
			distance: 290,
		});
		expect(fired("location.geofence_triggered").filter(e => e.context.vendorId === taco)).toEqual([]);
	});

	it("an area alert on a category fires enter and exit as location.geofence_triggered, for that category only", async () => {
		await drive(engine, clock, taco, [offset(MITTE, 100), offset(MITTE, 2_000)]);
		// The coffee cart's categories are fetched on its first position, in the background.
		await drive(engine, clock, coffee, [offset(MITTE, 1_000)]);
		await new Promise(r => setTimeout(r, 100));
		await drive(engine, clock, coffee, [offset(MITTE, 300), offset(MITTE, 420), offset(MITTE, 390)]);
		// 20 m outside is within the margin; 60 m outside, past the minimum interval, is out.
		await drive(engine, clock, coffee, [offset(MITTE, 460)], { firstAfterS: 61 });
		await waitFor(() => fired("location.geofence_triggered").length >= 2, { what: "enter and exit" });
		await new Promise(r => setTimeout(r, 200));
		const events = fired("location.geofence_triggered").filter(e => e.data.fenceId === areaId);
		expect(events.map(e => [e.data.vendorId, e.data.transition, e.context.userId])).toEqual([
			[coffee, "enter", "ben"],
			[coffee, "exit", "ben"],
		]);
		expect(events[1]!.data.distance).toBe(60);
	});

	it("a zone fires enter, dwell after dwellS and exit, with its name and no user", async () => {
		await drive(engine, clock, coffee, [MARKET, offset(MARKET, 10)], { firstAfterS: 61 });
		await drive(engine, clock, coffee, [offset(MARKET, 20), offset(MARKET, 500)], { firstAfterS: 119 });
		await waitFor(() => fired("location.geofence_triggered").filter(e => e.data.fenceId === zoneId).length >= 3, {
			what: "the zone's events",
		});
		const events = fired("location.geofence_triggered").filter(e => e.data.fenceId === zoneId);
		expect(events.map(e => e.data.transition)).toEqual(["enter", "dwell", "exit"]);
		expect(events[0]).toMatchObject({
			context: { vendorId: coffee, userId: null },
			data: { kind: "zone", name: "Market square", userId: null },
		});
	});

	it("a roaming alert (at: here) follows the customer's shared position", async () => {
		const cara = await engine.token("cara");
		const roaming = { kind: "vendor_nearby", vendor: { id: taco }, radius: 200, at: "here" };
		const id = (await api.post("/api/me/alerts", roaming, cara)).body.id as string;
		await waitFor(() => loadedFences(engine) === 4, { what: "the roaming fence" });
		const mine = () => fired("location.proximity_alert").filter(e => e.data.fenceId === id);
		const far = offset(MITTE, -6_000);
		await drive(engine, clock, taco, [far]); // no shared position yet: tests nothing
		await engine.broker.broadcast(HERE_EVENT, { userId: "cara", at: offset(far, 1_000) } satisfies HereUpdate);
		await drive(engine, clock, taco, [offset(far, 10)]);
		await engine.broker.broadcast(HERE_EVENT, { userId: "cara", at: offset(far, 150) } satisfies HereUpdate);
		await drive(engine, clock, taco, [offset(far, 20)]);
		await waitFor(() => mine().length === 1, { what: "the roaming alert" });
		expect(mine()[0]).toMatchObject({ context: { userId: "cara" }, data: { transition: "enter", distance: 130 } });
		await api.del(`/api/me/alerts/${id}`, cara);
		await waitFor(() => loadedFences(engine) === 3, { what: "the roaming fence gone" });
	});

	it("a deleted alert stops firing; the metrics count the tests and the fires", async () => {
		await api.del(`/api/me/alerts/${alertId}`, await engine.token("ana"));
		await waitFor(() => loadedFences(engine) === 2, { what: "the removal to reach geo" });
		await drive(engine, clock, taco, [offset(MITTE, 5_000), MITTE], { firstAfterS: 61 });
		await new Promise(r => setTimeout(r, 200));
		expect(fired("location.proximity_alert").filter(e => e.data.fenceId === alertId)).toHaveLength(1);
		const value = (name: string, labels: Record<string, string>) =>
			engine.broker.metrics.getMetric(name)?.get({ node: engine.broker.nodeID, ...labels })?.value ?? 0;
		await waitFor(() => value(ALERT_METRICS.fired, { kind: "zone" }) === 3, { what: "the fired counter" });
		expect(value(ALERT_METRICS.fired, { kind: "vendor_nearby" })).toBe(2);
		expect(value(ALERT_METRICS.fired, { kind: "area" })).toBe(2);
		expect(value(ALERT_METRICS.evaluated, {})).toBeGreaterThan(10);
	});
});
