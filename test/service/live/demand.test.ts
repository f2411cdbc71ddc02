import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cellToParent, gridDisk, latLngToCell } from "h3-js";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { LiveClient } from "../../helpers/live.ts";
import type { DemandCounts } from "../../../services/discovery/contract.ts";

const RES = 8;
const HERE = { lat: 52.52, lng: 13.405 };
const CELL = latLngToCell(HERE.lat, HERE.lng, RES);
const RING = gridDisk(CELL, 1);
const BOX = "13.3,52.45,13.5,52.6";

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
});
