/**
 * Interest (issue 17): the simulator (`npm run simulate`, the SDK's publisher) against the real
 * engine, half of the vendors in an area real watcher sockets look at, half where nobody looks;
 * both halves at once following the engine's interest frames and, in the same run, with
 * `--ignore-interest`. The figure: positions each vendor sent per minute, from the simulators'
 * own reports, checked against the engine's `venta_live_positions_in_total`.
 */
import WebSocket from "ws";
import { positionsReports, type PositionsReport } from "../../scripts/simulate/report.ts";
import { type BenchContext, StageError } from "../lib/context.ts";
import { BENCH_SECRET, liveCounters, sleep, startEngine } from "../lib/engine.ts";
import { spawnScript, type Proc } from "../lib/proc.ts";
import { fmt } from "../lib/stats.ts";
import { verdict, type Row } from "../lib/table.ts";

/** Berlin: watched around Alexanderplatz, unwatched 8 km south-west (no cell or ring shared). */
const WATCHED_AREA = [13.405, 52.518, 13.42, 52.526] as const;
const UNWATCHED_AREA = [13.3, 52.46, 13.315, 52.468] as const;
/** The watchers' box reaches past the watched area: GPS jitter and cell edges stay inside it. */
const WATCH_BOX = [WATCHED_AREA[0] - 0.005, WATCHED_AREA[1] - 0.003, WATCHED_AREA[2] + 0.005, WATCHED_AREA[3] + 0.003];
/** Customers looking at the watched area (lib/demand.ts FULL_RATE_WATCHERS: the full rate from 10). */
const WATCHERS = 10;
/** The simulator's default rate, and the engine's default POSITION_MAX_HZ. */
const SIM_HZ = 1;
const ENGINE_MAX_HZ = 5;
/** Unwatched vendors following interest must send less than this share of what watched ones send. */
const TARGET_SHARE = 1 / 3;
/** Positions the simulators say they sent and the engine counted may differ by those in flight at the end. */
const IN_FLIGHT_SHARE = 0.02;

type Half = { watched: PositionsReport; unwatched: PositionsReport };
export type InterestFigures = {
	vendorsPerGroup?: number;
	durationS?: number;
	follow?: Half;
	ignore?: Half;
	/** The engine's accepted positions over the run, and the simulators' sum of sent. */
	positionsIn?: number;
	sent?: number;
};

const GROUPS = [
	{ key: "follow", half: "watched", area: WATCHED_AREA, args: [] },
	{ key: "follow", half: "unwatched", area: UNWATCHED_AREA, args: [] },
	{ key: "ignore", half: "watched", area: WATCHED_AREA, args: ["--ignore-interest"] },
	{ key: "ignore", half: "unwatched", area: UNWATCHED_AREA, args: ["--ignore-interest"] },
] as const;

/** Watcher sockets over the watched area; resolves once each has its snapshot. */
async function openWatchers(liveUrl: string): Promise<WebSocket[]> {
	return Promise.all(
		Array.from(
			{ length: WATCHERS },
			() =>
				new Promise<WebSocket>((resolve, reject) => {
					const ws = new WebSocket(liveUrl);
					ws.on("error", reject);
					ws.on("open", () => ws.send(JSON.stringify({ op: "watch", bbox: WATCH_BOX })));
					ws.on("message", data => {
						const frame = JSON.parse(String(data)) as { op: string; code?: string };
						if (frame.op === "snapshot") resolve(ws);
						if (frame.op === "error") reject(new StageError(`a watch was refused: ${frame.code}`));
					});
				})
		)
	);
}

async function runSimulators(ctx: BenchContext, engine: { baseUrl: string; liveUrl: string }, vendors: number, durationS: number) {
	const sims: Proc[] = GROUPS.map(({ key, half, area, args }, i) =>
		spawnScript(
			`sim-${key}-${half}`,
			"scripts/simulate/simulate.ts",
			[
				...["--vendors", String(vendors), "--bbox", area.join(","), "--hz", String(SIM_HZ), "--duration", String(durationS)],
				...["--url", engine.baseUrl, "--live-url", engine.liveUrl, "--token-secret", BENCH_SECRET],
				...[
					"--prefix",
					`int${i}${Date.now().toString(36)}`,
					"--seed",
					String(17_001 + i),
					"--offline-per-hour",
					"0",
					"--report-every",
					"0",
				],
				...args,
			],
			{ DATA_DIR: ":memory:" }
		)
	);
	const outputs: string[] = sims.map(() => "");
	for (const [i, sim] of sims.entries()) sim.child.stdout?.on("data", d => (outputs[i] += String(d)));
	ctx.log("interest", `4 simulators × ${vendors} vendors at ${SIM_HZ} Hz for ${durationS} s (after onboarding)`);
	const codes = await Promise.all(sims.map(s => s.exited));
	return GROUPS.map((group, i) => {
		const report = positionsReports(outputs[i]!).at(-1);
		if (codes[i] !== 0 || !report) throw new StageError(`${sims[i]!.name} exited ${codes[i]} without its report:\n${sims[i]!.tail()}`);
		return { ...group, report };
	});
}

export async function interestStage(ctx: BenchContext, out: InterestFigures): Promise<void> {
	const vendors = ctx.quick ? 20 : 50;
	const durationS = ctx.quick ? 30 : 60;
	const engine = await startEngine("interest", { POSITION_MAX_HZ: String(ENGINE_MAX_HZ) });
	let watchers: WebSocket[] = [];
	try {
		watchers = await openWatchers(engine.liveUrl);
		const before = await liveCounters(engine);
		const runs = await runSimulators(ctx, engine, vendors, durationS);
		await sleep(500); // the last positions reach the counter
		out.positionsIn = (await liveCounters(engine)).positionsIn - before.positionsIn;
		out.sent = runs.reduce((sum, r) => sum + r.report.sent, 0);
		out.vendorsPerGroup = vendors;
		out.durationS = durationS;
		for (const key of ["follow", "ignore"] as const) {
			const [watched, unwatched] = ["watched", "unwatched"].map(half => runs.find(r => r.key === key && r.half === half)!.report);
			out[key] = { watched: watched!, unwatched: unwatched! };
			ctx.log("interest", `${key}: per vendor per minute watched ${watched!.perVendorPerMin}, unwatched ${unwatched!.perVendorPerMin}`);
		}
		if (Math.abs(out.positionsIn - out.sent) > out.sent * IN_FLIGHT_SHARE)
			ctx.note(`interest: the simulators sent ${out.sent} positions, the engine accepted ${out.positionsIn}`);
	} finally {
		for (const ws of watchers) ws.close();
		await engine.proc.stop();
	}
}

export function interestRows(f: InterestFigures | undefined): Row[] {
	if (!f?.follow || !f.ignore) return [];
	const share = f.follow.unwatched.perVendorPerMin / f.follow.watched.perVendorPerMin;
	const saved = 1 - f.follow.unwatched.perVendorPerMin / f.ignore.unwatched.perVendorPerMin;
	return [
		{
			figure: `14 Interest: positions per vendor per minute, ${f.vendorsPerGroup} simulated vendors × 4 at ${SIM_HZ} Hz, ${f.durationS} s, ${WATCHERS} watchers on half`,
			venta: `following interest: watched ${fmt(f.follow.watched.perVendorPerMin, 1)} / unwatched ${fmt(f.follow.unwatched.perVendorPerMin, 1)}`,
			comparison: `--ignore-interest: watched ${fmt(f.ignore.watched.perVendorPerMin, 1)} / unwatched ${fmt(f.ignore.unwatched.perVendorPerMin, 1)}; engine accepted ${f.positionsIn} of ${f.sent} sent`,
			ratio: `unwatched ${fmt(share, 3)}× watched; ${fmt(saved * 100, 0)}% fewer than ignoring`,
			target: `unwatched < ${fmt(TARGET_SHARE, 2)}× watched`,
			result: verdict(Number.isFinite(share) ? share < TARGET_SHARE : undefined),
		},
	];
}
