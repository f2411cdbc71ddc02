import { describe, expect, it } from "vitest";
import { CellFanout } from "../../../../gateways/live/fanout.ts";

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe("CellFanout (local delivery, optionally coalesced by LIVE_FLUSH_MS)", () => {
	it("publishes every frame at once without a window", () => {
		const out: string[] = [];
		const fanout = new CellFanout(0, (cell, frame) => out.push(`${cell}:${frame}`));
		fanout.send("c1", "v1", "p1");
		fanout.send("c1", "v1", "p2");
		expect(out).toEqual(["c1:p1", "c1:p2"]);
	});

	it("keeps the latest frame per vendor and cell for the window, then publishes them in arrival order", async () => {
		const out: string[] = [];
		const fanout = new CellFanout(30, (cell, frame) => out.push(`${cell}:${frame}`));
		fanout.send("c1", "v1", "pos1");
		fanout.send("c2", "v2", "pos2");
		// v1 leaves c1 for c3 and moves again within c3: gone before pos, only the latest pos.
		fanout.send("c1", "v1", "gone1");
		fanout.send("c3", "v1", "pos1b");
		fanout.send("c3", "v1", "pos1c");
		expect(out).toEqual([]);
		await sleep(60);
		expect(out).toEqual(["c2:pos2", "c1:gone1", "c3:pos1c"]);
	});

	it("flushes what the window holds on demand (shutdown)", () => {
		const out: string[] = [];
		const fanout = new CellFanout(10_000, (cell, frame) => out.push(`${cell}:${frame}`));
		fanout.send("c1", "v1", "pos1");
		fanout.flush();
		expect(out).toEqual(["c1:pos1"]);
		fanout.flush();
		expect(out).toHaveLength(1);
	});
});
