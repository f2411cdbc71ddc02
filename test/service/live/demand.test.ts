import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cellToParent, gridDisk, latLngToCell } from "h3-js";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient, metricValue, waitForRoutes, type Frame } from "../../helpers/live.ts";
import { INTEREST_MIN_INTERVAL_MS } from "../../../lib/demand.ts";
import type { DemandCounts } from "../../../services/discovery/contract.ts";

const RES = 8;
const HERE = { lat: 52.52, lng: 13.405 };
const CELL = latLngToCell(HERE.lat, HERE.lng, RES);
const RING = gridDisk(CELL, 1);
const BOX = "13.3,52.45,13.5,52.6";
const FAR = latLngToCell(48.137, 11.575, RES);

describe("demand on one node (live.demand, interest frames)", () => {
	let engine: TestEngine;
	const open: LiveClient[] = [];
	const connect = async (query = "") => {
		const client = await LiveClient.open(`${engine.liveUrl}${query}`);
		open.push(client);
		return client;
	};
	const demand = (params: Record<string, unknown>, opts: object = AS_OPERATOR) =>
		engine.broker.call<DemandCounts, Record<string, unknown>>("live.demand", params, opts);
	const fineCounts = async () => Object.fromEntries((await demand({ bbox: BOX })).cells.map(c => [c.cell, c.watchers]));

	beforeAll(async () => {
		engine = await startTestEngine({ POSITION_MAX_HZ: "5", DEMAND_MIN_COUNT: "3", INTEREST_FLOOR_HZ: "0.5" });
		await waitForRoutes(engine.baseUrl);
	});
	afterAll(async () => {
		for (const c of open) c.close();
		await engine.stop();
	});

	it("counts the sockets the test opened, at both levels, and falls back when they re-watch or close", async () => {
		expect(await demand({ bbox: BOX })).toEqual({ bbox: [13.3, 52.45, 13.5, 52.6], res: RES, cells: [], nodes: 1 });
		const [a, b, c] = [await connect(), await connect(), await connect()];
		await a.watch({ cells: RING });
		await b.watch({ cells: [CELL] });
		await c.watch({ cells: [CELL, RING[1]] });
		expect(await fineCounts()).toEqual({ ...Object.fromEntries(RING.map(r => [r, 1])), [CELL]: 3, [RING[1]!]: 2 });
		// Three distinct sockets at the coarse level, however many fine cells each watches.
		const coarse = await demand({ bbox: [13.3, 52.45, 13.5, 52.6], res: RES - 2 });
		const parents = new Set(RING.map(r => cellToParent(r, RES - 2)));
		expect(coarse.cells.find(x => x.cell === cellToParent(CELL, RES - 2))?.watchers).toBe(3);
		expect(coarse.cells.every(x => parents.has(x.cell))).toBe(true);

		await b.watch({ cells: [RING[2]!] });
		c.close();
		await waitFor(async () => (await fineCounts())[CELL] === 1, { what: "counts falling back" });
		expect(await fineCounts()).toEqual({ ...Object.fromEntries(RING.map(r => [r, 1])), [RING[2]!]: 2 });
		a.close();
		b.close();
		await waitFor(async () => (await demand({ bbox: BOX })).cells.length === 0, { what: "no watchers left" });
	});

	it("refuses callers without a privileged identity, bad boxes and levels, and boxes over too many routing cells", async () => {
		await expect(demand({ bbox: BOX }, {})).rejects.toMatchObject({ code: 401, type: "NO_TOKEN" });
		await expect(demand({ bbox: BOX }, { meta: { user: { id: "user_1", role: "vendor" } } })).rejects.toMatchObject({ code: 403 });
		await expect(demand({ bbox: "13.5,52.6,13.3,52.45" })).rejects.toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
		await expect(demand({ bbox: "x".repeat(500) })).rejects.toMatchObject({ code: 422 });
		await expect(demand({ bbox: BOX, res: RES - 1 })).rejects.toMatchObject({ code: 422, data: [{ field: "res" }] });
		await expect(demand({ bbox: "0,0,40,40" })).rejects.toMatchObject({ code: 400, type: "AREA_TOO_LARGE" });
		// Across the antimeridian: the box is split, and answered.
		expect((await demand({ bbox: "179.9,-17,-179.9,-16.9" })).cells).toEqual([]);
	});

	it("tells a vendor socket how many watch its cell and ring and the rate that serves them, as watchers come and go, never more often than the interval", async () => {
		const owner = await engine.token("user_demand_owner");
		const vendorId = await activeVendor(engine.baseUrl, owner);
		const vendor = await LiveClient.openAnswering(`${engine.liveUrl}?token=${owner}&vendor=${vendorId}`);
		open.push(vendor);
		const interest: { at: number; frame: Frame }[] = [];
		vendor.ws.on("message", data => {
			const frame = JSON.parse(data.toString()) as Frame;
			if (frame.op === "interest") interest.push({ at: Date.now(), frame });
		});
		const nextInterest = async (match: (f: Frame) => boolean, what: string) =>
			(await waitFor(() => interest.find(i => match(i.frame)), { timeout: 15_000, what })).frame;

		// Nobody watches: the floor, as soon as the vendor's cell is known.
		vendor.send({ op: "pos", ...HERE });
		expect(await vendor.nextOp("interest")).toEqual({ op: "interest", watchers: 0, suggestedHz: 0.5 });

		// One watcher of a ring cell (and one elsewhere, who does not count): below DEMAND_MIN_COUNT the
		// frame says 0, but the rate rises.
		const [first, elsewhere] = [await connect(), await connect()];
		await first.watch({ cells: [RING[3]!] });
		await elsewhere.watch({ cells: [FAR] });
		expect(await nextInterest(f => f.suggestedHz === 1, "the rate of one watcher")).toEqual({
			op: "interest",
			watchers: 0,
			suggestedHz: 1,
		});

		// Ten on the vendor's cell: shown, and the full POSITION_MAX_HZ.
		const crowd = await Promise.all(Array.from({ length: 10 }, () => connect()));
		await Promise.all(crowd.map(c => c.watch({ cells: [CELL] })));
		expect(await nextInterest(f => f.suggestedHz === 5, "the full rate")).toEqual({ op: "interest", watchers: 10, suggestedHz: 5 });

		// They leave: back to the floor.
		for (const c of [first, ...crowd]) c.close();
		expect(await nextInterest(f => f.watchers === 0 && f.suggestedHz === 0.5 && f !== interest[0]!.frame, "the floor again")).toEqual({
			op: "interest",
			watchers: 0,
			suggestedHz: 0.5,
		});
		for (let i = 1; i < interest.length; i++)
			expect(interest[i]!.at - interest[i - 1]!.at).toBeGreaterThanOrEqual(INTEREST_MIN_INTERVAL_MS - 100);
		expect(interest).toHaveLength(4);

		const live = await (await fetch(`http://127.0.0.1:${engine.config.livePort}/metrics`)).text();
		expect(metricValue(live, "venta_live_interest_sent_total")).toBeGreaterThanOrEqual(4);
		expect(metricValue(live, "venta_live_demand_published_total")).toBe(0);
	});
});
