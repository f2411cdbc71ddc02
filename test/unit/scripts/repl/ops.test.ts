import { describe, expect, it } from "vitest";
import { parseBBox } from "../../../../scripts/repl/ops/common.ts";
import { liveRates, type LiveSample } from "../../../../scripts/repl/ops/live.ts";

describe("REPL rates and boxes (pure)", () => {
	const sample = (
		node: string,
		at: number,
		counters: Partial<Record<"positionsIn" | "positionsDropped" | "routedIn" | "deliveries", number>>
	): LiveSample => ({
		node,
		at,
		stats: {
			node,
			sockets: 2,
			watchers: 1,
			vendors: 1,
			slowSockets: 0,
			backpressureDrops: 0,
			slowConsumersClosed: 0,
			alertsSent: 0,
			watchedCells: 7,
			routingSubjects: ["841f1d5ffffffff"],
			demand: { follows: 0, subjects: [], boardNodes: 0, published: 0, received: 0, answered: 0, rejected: 0, interestSent: 0 },
			counters: { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0, ...counters },
		},
	});

	it("computes per-second rates from the nodes' own counters over the time between two samples", () => {
		const [row] = liveRates(
			[sample("a", 1_000, { positionsIn: 10, deliveries: 100 })],
			[sample("a", 3_000, { positionsIn: 30, deliveries: 180, positionsDropped: 4, routedIn: 1 })]
		);
		expect(row).toMatchObject({
			node: "a",
			sockets: 2,
			watchers: 1,
			vendors: 1,
			watchedCells: 7,
			windowS: 2,
			inPerS: 10,
			deliveriesPerS: 40,
			droppedPerS: 2,
			routedInPerS: 0.5,
			positionsIn: 30,
		});
	});

	it("a node seen only in the second sample has totals but no rate; a node that failed to answer says why", () => {
		const rows = liveRates(
			[],
			[sample("new", 5_000, { positionsIn: 9 }), { node: "down", at: 5_000, stats: null, error: "Request timed out" }]
		);
		expect(rows[0]).toMatchObject({ node: "new", positionsIn: 9, inPerS: 0, windowS: 0 });
		expect(rows[1]).toMatchObject({ node: "down", sockets: 0, error: "Request timed out" });
	});

	it("parses w,s,e,n boxes and refuses bad ones", () => {
		expect(parseBBox("-9.2,38.7,-9.1,38.8")).toEqual([-9.2, 38.7, -9.1, 38.8]);
		for (const bad of ["", "1,2,3", "1,2,3,x", "10,0,5,1", "0,10,1,5", "-181,0,0,1", "0,-91,1,0", "0,,1,2"]) {
			expect(() => parseBBox(bad), bad).toThrow(/bbox must be/);
		}
	});
});
