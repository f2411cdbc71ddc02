import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";
import { LiveClient } from "../../helpers/live.ts";
import { cellSetCacheSize } from "../../../gateways/live/cells.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** A viewport of ~0.2° × 0.18° (about 500 res-8 cells), somewhere new each time. */
function viewport(i: number): [number, number, number, number] {
	const w = -120 + (i % 200) * 0.5 + i * 1e-4;
	const s = 30 + Math.floor(i / 200) * 0.5;
	return [w, s, w + 0.2, s + 0.18];
}

/** Live JS memory after a full collection: heap plus buffers (h3-js' wasm heap counts as external). */
function retainedMb(): number {
	gc();
	const m = process.memoryUsage();
	return (m.heapUsed + m.external) / 1e6;
}

/**
 * Soak: a thousand distinct bbox watches (each a fresh polygonToCells, a snapshot read and a
 * topic swap on the socket) leave retained memory flat: the cell-set cache is bounded and
 * nothing else keeps old watch sets alive.
 */
describe("live gateway soak: repeated bbox watches", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		// This soak is about memory, not the per-socket budget: one socket may watch as fast as it likes.
		engine = await startTestEngine({ SERVICES: "geo,live", LIVE_OPS_PER_S: "1000000" });
	});
	afterAll(() => engine.stop());

	it("keeps memory flat", async () => {
		const client = await LiveClient.open(engine.liveUrl);
		let i = 0;
		let cells = 0;
		const watchMany = async (n: number) => {
			for (const end = i + n; i < end; i++) {
				const snapshot = await client.watch({ bbox: viewport(i) });
				cells += (snapshot.cells as string[]).length;
				client.forget();
			}
		};

		await watchMany(500); // warm-up: JIT, pools, and the bounded cache fills up
		const afterWarmUp = retainedMb();
		const rssBefore = process.memoryUsage().rss / 1e6;
		const cellsBefore = cells;
		await watchMany(1000);
		const afterSoak = retainedMb();
		const soakCells = cells - cellsBefore;
		console.log(
			`soak: ${i} bbox watches (${soakCells} cells after warm-up); retained ${afterWarmUp.toFixed(1)} → ${afterSoak.toFixed(1)} MB, ` +
				`rss ${rssBefore.toFixed(1)} → ${(process.memoryUsage().rss / 1e6).toFixed(1)} MB, cache ${cellSetCacheSize()} sets`
		);

		expect(soakCells / 1000).toBeGreaterThan(400);
		// Keeping those watch sets would retain ~40 MB (500k cell ids); flat means a few MB of noise.
		expect(afterSoak - afterWarmUp).toBeLessThan(8);
		const stats = await engine.broker.call<{ watchedCells: number; routingSubjects: unknown }>("live.stats");
		expect(stats.watchedCells).toBeLessThan(1000);
		client.close();
	}, 40_000);
});
