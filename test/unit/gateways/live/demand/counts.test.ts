import { describe, expect, it } from "vitest";
import { cellToChildren, cellToParent, gridDisk, latLngToCell } from "h3-js";
import { routingCell } from "../../../../../gateways/live/cells.ts";
import { LiveHub } from "../../../../../gateways/live/hub.ts";
import { LocalDemand } from "../../../../../gateways/live/demand/counts.ts";
import { boxRoutingCells, DEMAND_MAX_ROUTING_CELLS, sumInBox } from "../../../../../gateways/live/demand/query.ts";
import { FakeApp, FakeRouter } from "../../../../helpers/fake-uws.ts";

const RES = 8;
const COARSE = cellToParent(latLngToCell(52.52, 13.405, RES), RES - 2);
/** Fine cells of one coarse cell, and one of another coarse cell. */
const INSIDE = cellToChildren(COARSE, RES).slice(0, 40);
const OTHER = latLngToCell(48.137, 11.575, RES);

const asObject = (m: Map<string, number> | undefined) => Object.fromEntries(m ?? []);

describe("LocalDemand", () => {
	it("counts sockets per fine cell, and distinct sockets per coarse cell", () => {
		const demand = new LocalDemand(RES);
		const [a, b] = [new Map<string, number>(), new Map<string, number>()];
		for (const cell of INSIDE) demand.watch(a, cell);
		demand.watch(b, INSIDE[0]!);
		demand.watch(b, OTHER);
		const area = demand.area(routingCell(INSIDE[0]!, RES))!;
		expect(area.fine.get(INSIDE[0]!)).toBe(2);
		expect(area.fine.get(INSIDE[1]!)).toBe(1);
		expect(asObject(area.coarse)).toEqual({ [COARSE]: 2 });
		expect(asObject(a)).toEqual({ [COARSE]: 40 });
		expect(asObject(demand.area(routingCell(OTHER, RES))?.coarse)).toEqual({ [cellToParent(OTHER, RES - 2)]: 1 });
		expect(demand.watchedCells).toBe(41);

		// a's coarse count holds until its last fine cell there goes.
		for (const cell of INSIDE.slice(1)) demand.unwatch(a, cell);
		expect(asObject(area.coarse)).toEqual({ [COARSE]: 2 });
		demand.unwatch(a, INSIDE[0]!);
		expect(asObject(area.coarse)).toEqual({ [COARSE]: 1 });
		expect(a.size).toBe(0);
	});

	it("answers the routing cell when its first cell is watched and when its last one is left; remembers which changed", () => {
		const demand = new LocalDemand(RES);
		const ws = new Map<string, number>();
		const routing = routingCell(INSIDE[0]!, RES);
		expect(demand.watch(ws, INSIDE[0]!)).toBe(routing);
		expect(demand.watch(ws, INSIDE[1]!)).toBeNull();
		expect(demand.takeChanged()).toEqual([routing]);
		expect(demand.takeChanged()).toEqual([]);
		expect(demand.unwatch(ws, INSIDE[0]!)).toBeNull();
		expect(demand.unwatch(ws, INSIDE[1]!)).toBe(routing);
		expect(demand.area(routing)).toBeUndefined();
		expect(demand.takeChanged()).toEqual([routing]);
		expect(demand.unwatch(ws, INSIDE[1]!)).toBeNull();
	});

	it("follows the hub's watch sets: re-watching and closing make counts fall back", () => {
		const app = new FakeApp();
		const router = new FakeRouter();
		const hub = new LiveHub(RES);
		hub.attach(app.asApp, router.asRouter);
		const [x, y] = [app.socket(), app.socket()];
		hub.add(x.asLive);
		hub.add(y.asLive);
		hub.setWatch(x.asLive, INSIDE.slice(0, 10));
		hub.setWatch(y.asLive, INSIDE.slice(5, 15));
		const routing = routingCell(INSIDE[0]!, RES);
		expect(asObject(hub.demand.area(routing)?.coarse)).toEqual({ [COARSE]: 2 });
		expect(hub.demand.fineCount(INSIDE[7]!)).toBe(2);
		expect([...router.subjects]).toEqual([routing]);

		hub.setWatch(x.asLive, [OTHER]);
		expect(hub.demand.fineCount(INSIDE[7]!)).toBe(1);
		expect(asObject(hub.demand.area(routing)?.coarse)).toEqual({ [COARSE]: 1 });
		hub.remove(y.asLive);
		expect(hub.demand.area(routing)).toBeUndefined();
		expect([...router.subjects]).toEqual([routingCell(OTHER, RES)]);
		hub.remove(x.asLive);
		expect(hub.stats()).toMatchObject({ watchedCells: 0, routingSubjects: 0 });
	});
});

describe("live.demand's box", () => {
	it("sums every node's counts of a level, cells whose centre is inside, busiest first", () => {
		const cell = latLngToCell(52.52, 13.405, RES);
		const [near] = gridDisk(cell, 1).filter(c => c !== cell);
		const mine = { fine: new Map([[cell, 2]]), coarse: new Map([[COARSE, 2]]) };
		const theirs = {
			fine: new Map([
				[cell, 1],
				[near!, 5],
				[OTHER, 9],
			]),
			coarse: new Map([[COARSE, 4]]),
		};
		const box = [13.3, 52.45, 13.5, 52.6] as const;
		expect(sumInBox(box, "fine", [mine, theirs])).toEqual([
			{ cell: near, watchers: 5 },
			{ cell, watchers: 3 },
		]);
		expect(sumInBox(box, "coarse", [mine, theirs])).toEqual([{ cell: COARSE, watchers: 6 }]);
	});

	it("takes the routing cells of a box across the antimeridian, refusing too large a box", () => {
		const cells = boxRoutingCells([179.9, -17, -179.9, -16.9], RES);
		expect(cells.length).toBeGreaterThanOrEqual(2);
		expect(() => boxRoutingCells([0, 0, 20, 20], RES)).toThrow(expect.objectContaining({ code: 400, type: "AREA_TOO_LARGE" }));
		expect(boxRoutingCells([13, 52, 13.5, 52.5], RES).length).toBeLessThanOrEqual(DEMAND_MAX_ROUTING_CELLS);
	});
});
