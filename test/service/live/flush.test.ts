import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient, waitForRoutes } from "../../helpers/live.ts";

const A = { lat: 52.52, lng: 13.405 };
const cellA = latLngToCell(A.lat, A.lng, 8);

/** LIVE_FLUSH_MS: the fan-out coalesces each window, latest position per vendor. */
describe("the live fan-out with a coalescing window", () => {
	let engine: TestEngine;
	const open: LiveClient[] = [];
	beforeAll(async () => {
		engine = await startTestEngine({ LIVE_FLUSH_MS: "200", POSITION_MAX_HZ: "50" });
		await waitForRoutes(engine.baseUrl);
	});
	afterAll(async () => {
		for (const c of open) c.close();
		await engine.stop();
	});

	it("delivers the latest of a burst, not every frame of it, within the window", async () => {
		const owner = await engine.token("user_flush_owner");
		const vendorId = await activeVendor(engine.baseUrl, owner, "Flush Cart");
		const watcher = await LiveClient.open(engine.liveUrl);
		open.push(watcher);
		await watcher.watch({ cells: [cellA] });
		const vendor = await LiveClient.openAnswering(`${engine.liveUrl}?token=${owner}&vendor=${vendorId}`);
		open.push(vendor);
		const start = Date.now();
		for (let i = 0; i < 5; i++) vendor.send({ op: "pos", lat: A.lat + i * 1e-6, lng: A.lng, ts: start + i });
		const last = await watcher.next(f => f.op === "pos" && f.ts === start + 4, 5_000);
		expect(last).toMatchObject({ id: vendorId, cell: cellA });
		// Give a straggler every chance to show up: the burst came as one frame (the first may have opened the window alone).
		await new Promise(r => setTimeout(r, 400));
		expect(watcher.frames.filter(f => f.op === "pos").length).toBeLessThanOrEqual(2);
		await waitFor(async () => ((await engine.broker.call<unknown[], object>("geo.history", { vendorId })) as unknown[]).length >= 1, {
			what: "the burst stored",
		});
	});
});
