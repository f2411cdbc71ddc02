import { describe, expect, it } from "vitest";
import { cellToParent, latLngToCell } from "h3-js";
import { routingCell } from "../../../../../gateways/live/cells.ts";
import { DEMAND_EXPIRY_MS, DemandBoard } from "../../../../../gateways/live/demand/board.ts";
import { LocalDemand } from "../../../../../gateways/live/demand/counts.ts";
import { DemandCodec, encodeAnswer, encodeAsk, encodeCounts } from "../../../../../gateways/live/demand/message.ts";

const RES = 8;
const CELL = latLngToCell(52.52, 13.405, RES);
const ROUTING = routingCell(CELL, RES);
const COARSE = cellToParent(CELL, RES - 2);
const ELSEWHERE = latLngToCell(48.137, 11.575, RES);
const codec = new DemandCodec(RES);
const bytes = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const counts = (fine: [string, number][], coarse: [string, number][] = []) => ({ fine: new Map(fine), coarse: new Map(coarse) });

describe("demand messages", () => {
	it("round-trip a node's counts of a routing cell, an ask and its answer", () => {
		const local = new LocalDemand(RES);
		local.watch(new Map(), CELL);
		local.watch(new Map(), CELL);
		const area = local.area(ROUTING)!;
		expect(codec.counts(encodeCounts("node-a", "i1", 7, area), ROUTING)).toEqual({
			node: "node-a",
			instance: "i1",
			seq: 7,
			counts: counts([[CELL, 2]], [[COARSE, 2]]),
		});
		// A routing cell that fell to zero is published once, empty.
		expect(codec.counts(encodeCounts("node-a", "i1", 8, undefined), ROUTING)?.counts).toEqual(counts([]));
		expect(codec.ask(encodeAsk([ROUTING]))).toEqual([ROUTING]);
		const answer = encodeAnswer("node-b", "i2", [{ routing: ROUTING, seq: 3, counts: area }]);
		expect(codec.answer(answer, new Set([ROUTING]))).toEqual({
			node: "node-b",
			instance: "i2",
			areas: [{ routing: ROUTING, seq: 3, counts: counts([[CELL, 2]], [[COARSE, 2]]) }],
		});
	});

	it("ignores malformed messages: not JSON, too deep, too big, wrong shapes, cells of another area or level, bad counts", () => {
		const good = { n: "node-a", i: "i1", s: 1, f: [[CELL, 1]], c: [[COARSE, 1]] };
		const bad: unknown[] = [
			"not json",
			"[".repeat(1_000),
			{ ...good, f: Array.from({ length: 5_000 }, () => [CELL, 1]) },
			[],
			{ ...good, n: "" },
			{ ...good, n: "x".repeat(200) },
			{ ...good, i: 3 },
			{ ...good, s: -1 },
			{ ...good, s: 1.5 },
			{ ...good, f: "cells" },
			{ ...good, f: [[CELL]] },
			{ ...good, f: [[ELSEWHERE, 1]] },
			{ ...good, f: [[COARSE, 1]] },
			{ ...good, f: [["nonsense", 1]] },
			{ ...good, f: [[CELL, 0]] },
			{ ...good, f: [[CELL, "3"]] },
			{ ...good, f: [[CELL, 1e12]] },
			{ ...good, c: [[CELL, 1]] },
		];
		for (const message of bad) expect(codec.counts(bytes(message), ROUTING), JSON.stringify(message).slice(0, 80)).toBeNull();
		expect(codec.counts(bytes(good), ROUTING)).not.toBeNull();
		expect(codec.counts(bytes(good), routingCell(ELSEWHERE, RES))).toBeNull();

		expect(codec.ask(bytes([CELL]))).toBeNull();
		expect(codec.ask(bytes({ r: [ROUTING] }))).toBeNull();
		expect(codec.ask(bytes(Array.from({ length: 100 }, () => ROUTING)))).toBeNull();
		const answer = { n: "node-b", i: "i2", a: [{ r: ROUTING, s: 1, f: [[CELL, 1]], c: [] }] };
		expect(codec.answer(bytes(answer), new Set([ROUTING]))).not.toBeNull();
		expect(codec.answer(bytes(answer), new Set(["8a1f1d4a9a6ffff"]))).toBeNull();
		expect(codec.answer(bytes({ ...answer, a: {} }), new Set([ROUTING]))).toBeNull();
	});
});

describe("DemandBoard", () => {
	it("keeps each node's newest counts per routing cell: a lower sequence is late, another process is a restart", () => {
		const board = new DemandBoard();
		expect(board.merge(ROUTING, "a", "i1", 5, counts([[CELL, 3]]), 0)).toBe(true);
		expect(board.merge(ROUTING, "b", "j1", 1, counts([[CELL, 2]]), 0)).toBe(true);
		expect(board.fineCount(ROUTING, CELL)).toBe(5);
		expect(board.merge(ROUTING, "a", "i1", 4, counts([[CELL, 30]]), 0)).toBe(false);
		expect(board.merge(ROUTING, "a", "i1", 5, counts([[CELL, 30]]), 0)).toBe(false);
		expect(board.fineCount(ROUTING, CELL)).toBe(5);
		expect(board.merge(ROUTING, "a", "i2", 1, counts([[CELL, 1]]), 0)).toBe(true);
		expect(board.fineCount(ROUTING, CELL)).toBe(3);
		expect([...board.counts(ROUTING)]).toHaveLength(2);
		expect(board.nodes).toBe(2);
	});

	it("drops a node that left, an area no longer followed, and counts not refreshed in time", () => {
		const board = new DemandBoard();
		const other = routingCell(ELSEWHERE, RES);
		board.merge(ROUTING, "a", "i1", 1, counts([[CELL, 3]]), 0);
		board.merge(ROUTING, "b", "j1", 1, counts([[CELL, 2]]), 0);
		board.merge(other, "a", "i1", 2, counts([[ELSEWHERE, 1]]), 0);
		board.dropNode("a");
		expect(board.fineCount(ROUTING, CELL)).toBe(2);
		expect(board.fineCount(other, ELSEWHERE)).toBe(0);
		expect(board.nodes).toBe(1);

		board.merge(other, "b", "j1", 2, counts([[ELSEWHERE, 4]]), 1_000);
		board.forget(other);
		expect(board.fineCount(other, ELSEWHERE)).toBe(0);

		board.merge(ROUTING, "c", "k1", 1, counts([[CELL, 1]]), DEMAND_EXPIRY_MS);
		board.expire(DEMAND_EXPIRY_MS);
		expect(board.fineCount(ROUTING, CELL)).toBe(3);
		board.expire(DEMAND_EXPIRY_MS + 1);
		expect(board.fineCount(ROUTING, CELL)).toBe(1);
		board.expire(2 * DEMAND_EXPIRY_MS + 1);
		expect(board.nodes).toBe(0);
	});
});
