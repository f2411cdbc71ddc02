import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient as RawClient, metricValue, waitForRoutes } from "../../helpers/live.ts";
import { connectVendor, type PublisherRate, type VendorPublisher } from "../../../packages/client/src/index.ts";

/** Far from the other live tests' spots: only this file's sockets watch around it. */
const SPOT = { lat: 52.47, lng: 13.33 };
const CELL = latLngToCell(SPOT.lat, SPOT.lng, 8);
const WATCHERS = 10;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The SDK's publisher against one real engine whose live node sends interest frames. */
describe("@venta/client publisher following interest", () => {
	let engine: TestEngine;
	const closers: Array<() => unknown> = [];
	const positionsIn = async () =>
		metricValue(await (await fetch(`${engine.baseUrl}/metrics`)).text(), "venta_live_positions_in_total") ?? 0;

	/** A vendor whose app reads its GPS at 5 Hz and publishes every reading. */
	const movingVendor = async (name: string, followInterest?: boolean) => {
		const owner = `user_interest_${name}`;
		const id = await activeVendor(engine.baseUrl, await engine.token(owner), `Interest ${name}`);
		const p = connectVendor({ url: engine.liveUrl, vendor: id, maxHz: 5, followInterest, getToken: () => engine.token(owner) });
		const rates: PublisherRate[] = [];
		p.on("rate", r => rates.push(r));
		let step = 0;
		const gps = setInterval(() => p.publish({ lat: SPOT.lat + ++step * 0.000001, lng: SPOT.lng }), 200);
		closers.push(
			() => clearInterval(gps),
			() => p.close()
		);
		return { id, p, rates };
	};
	const sentDuring = async (p: VendorPublisher, ms: number) => {
		const before = p.stats.sent;
		await sleep(ms);
		return p.stats.sent - before;
	};

	beforeAll(async () => {
		engine = await startTestEngine();
		await waitForRoutes(engine.baseUrl);
	});
	afterEach(async () => {
		for (const close of closers.splice(0)) await close();
	});
	afterAll(() => engine.stop());

	it("sends at the floor rate while nobody watches, at full rate once watchers open sockets over its cell, and slows down when they leave", async () => {
		const { id, p, rates } = await movingVendor("follow");
		const floorHz = engine.config.demand.floorHz;
		await waitFor(() => p.hz === floorHz, { timeout: 15_000, what: "an interest frame with nobody watching" });
		expect(p.watchers).toBe(0);
		expect(p.suggestedHz).toBe(floorHz);
		const inBefore = await positionsIn();
		const unwatched = await sentDuring(p, 10_000);
		// 0.1 Hz over 10 s: one, perhaps two; a publisher ignoring the frame would have sent 50.
		expect(unwatched).toBeLessThan(4);
		expect((await positionsIn()) - inBefore).toBeLessThan(4);

		const watchers = await Promise.all(Array.from({ length: WATCHERS }, () => RawClient.open(engine.liveUrl)));
		closers.push(() => {
			for (const w of watchers) w.close();
		});
		await Promise.all(watchers.map(w => w.watch({ cells: [CELL] })));
		await waitFor(() => p.hz === engine.config.positionMaxHz, { timeout: 15_000, what: "the full rate with 10 watchers" });
		expect(p.watchers).toBeGreaterThanOrEqual(WATCHERS);
		watchers[0]!.forget();
		const watched = await sentDuring(p, 5_000);
		expect(watched).toBeGreaterThan(10);
		// The watchers see them: the engine refused none for the rate.
		expect(watchers[0]!.frames.filter(f => f.op === "pos" && f.id === id).length).toBeGreaterThan(10);
		expect(rates[0]).toMatchObject({ hz: floorHz, watchers: 0 });
		expect(rates.at(-1)).toMatchObject({ hz: 5, suggestedHz: 5 });

		for (const w of watchers) w.close();
		await waitFor(() => p.hz === floorHz, { timeout: 15_000, what: "the floor rate again once the watchers left" });
		expect(p.watchers).toBe(0);
	}, 60_000);

	it("with followInterest: false keeps sending at maxHz and still reports that nobody watches", async () => {
		const { p, rates } = await movingVendor("ignore", false);
		await waitFor(() => p.watchers === 0, { timeout: 15_000, what: "an interest frame with nobody watching" });
		expect(p.hz).toBe(5);
		expect(await sentDuring(p, 4_000)).toBeGreaterThan(12);
		expect(rates).toEqual([]);
	}, 30_000);
});
