import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { positionsReports, type PositionsReport } from "../../scripts/simulate/report.ts";
import { startTestEngine, type TestEngine } from "../helpers/engine.ts";
import { LiveClient as RawClient } from "../helpers/live.ts";
import { startSimulator, type Simulator } from "../helpers/simulator.ts";

/** Two areas of Berlin 8 km apart: sockets of the test watch the first, nobody the second. */
const WATCHED = [13.395, 52.515, 13.405, 52.521] as const;
const UNWATCHED = [13.3, 52.455, 13.31, 52.461] as const;
/** The watch reaches past the area: GPS jitter and cell edges stay inside it. */
const WATCH_BOX = [WATCHED[0] - 0.005, WATCHED[1] - 0.003, WATCHED[2] + 0.005, WATCHED[3] + 0.003];
const VENDORS = 4;
const DURATION_S = 30;

type Run = { watched: PositionsReport; unwatched: PositionsReport };

/**
 * The "done when" at test scale: simulated vendors nobody watches send a fraction of what
 * watched ones send, because they follow the engine's interest frames; with --ignore-interest they do not.
 */
describe("simulated vendors and interest frames", () => {
	let engine: TestEngine;
	const sims: Simulator[] = [];
	const watchers: RawClient[] = [];
	const runs: Record<"follow" | "ignore", Run> = {} as never;

	beforeAll(async () => {
		engine = await startTestEngine();
		for (let i = 0; i < 2; i++) {
			const w = await RawClient.open(engine.liveUrl);
			watchers.push(w);
			await w.watch({ bbox: WATCH_BOX });
		}
		const start = (bbox: readonly number[], prefix: string, ignore: boolean) =>
			startSimulator(engine, {
				vendors: VENDORS,
				bbox,
				prefix,
				args: ["--hz", "1", "--offline-per-hour", "0", "--duration", String(DURATION_S), ...(ignore ? ["--ignore-interest"] : [])],
			});
		// All four at once: one engine, one half-minute.
		const started = await Promise.all([
			start(WATCHED, "intfw", false),
			start(UNWATCHED, "intfu", false),
			start(WATCHED, "intiw", true),
			start(UNWATCHED, "intiu", true),
		]);
		sims.push(...started);
		const reports = await Promise.all(
			started.map(async sim => {
				expect(await sim.exited).toBe(0);
				const report = positionsReports(sim.output()).at(-1);
				if (!report) throw new Error(`no positions report:\n${sim.output()}`);
				return report;
			})
		);
		runs.follow = { watched: reports[0]!, unwatched: reports[1]! };
		runs.ignore = { watched: reports[2]!, unwatched: reports[3]! };
		console.log(`interest: positions per vendor per minute ${JSON.stringify(runs)}`);
	}, 120_000);
	afterAll(async () => {
		for (const w of watchers) w.close();
		await Promise.all(sims.map(s => s.kill("SIGKILL")));
		await engine?.stop();
	});

	it("following interest, unwatched vendors send less than a third of what watched ones send", () => {
		const { watched, unwatched } = runs.follow;
		expect(watched.followInterest).toBe(true);
		// 1 Hz: about 60 a minute watched; the floor (0.1 Hz) gives about 6, plus the first at full rate.
		expect(watched.perVendorPerMin).toBeGreaterThan(30);
		expect(unwatched.perVendorPerMin).toBeLessThan(watched.perVendorPerMin / 3);
		// Each vendor knew which it was: its latest interest frame.
		expect(watched.watched?.sent).toBeGreaterThan(0.9 * watched.sent);
		expect(unwatched.unwatched?.sent).toBeGreaterThan(0.5 * unwatched.sent);
	});

	it("with --ignore-interest, unwatched vendors send as much as watched ones", () => {
		const { watched, unwatched } = runs.ignore;
		expect(watched.followInterest).toBe(false);
		expect(watched.perVendorPerMin).toBeGreaterThan(30);
		expect(unwatched.perVendorPerMin).toBeGreaterThan((2 / 3) * watched.perVendorPerMin);
		// The frames still come, and still tell the two apart.
		expect(unwatched.unwatched?.vendorMinutes).toBeGreaterThan(0);
	});
});
