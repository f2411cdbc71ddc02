/**
 * Rush-hour opening (issue 14): with the city's 200 vendors online, 500 watcher sockets connect
 * at once and each sends one `watch` of a 3 km × 3 km box as soon as it is open, as when many
 * customers open the app within a second. Per round: watch → snapshot latency (timed in the
 * clients), and server CPU over the opening (first connect to last snapshot) per watcher.
 * A round counts only when every watcher got its snapshot holding exactly the vendors in its box.
 */
import type { SnapshotRecord, WatchersSample } from "../clients/watchers.ts";
import { checkSnapshots, type SnapshotCheck } from "../lib/checks.ts";
import type { Competitor, CompetitorKey } from "../lib/competitors.ts";
import { type BenchContext, LOCAL_ADDRESSES } from "../lib/context.ts";
import { sleep } from "../lib/engine.ts";
import type { ClientProc } from "../lib/ipc.ts";
import { split } from "../lib/geometry.ts";
import { forkClient, maxCpu } from "../lib/load.ts";
import { boxesInside, vendorIdsInCells } from "../lib/places.ts";
import { cpuNsBetween, cpuSample, mainThreadShare } from "../lib/proc.ts";
import { fmt, fmtSummary, latencyStats } from "../lib/stats.ts";
import { atMost, med, verdict, type Row } from "../lib/table.ts";
import { bboxCells } from "../servers/cells.ts";
import { CITY_AREA, CITY_VENDORS, type City } from "./city.ts";

const WATCHERS = 500;
const BOX_M = 3000;
const RES = 8;
const WATCHER_PROCS = 2;
const SEED = 14_004;
const SNAPSHOT_TIMEOUT_MS = 30_000;
const TARGET_CPU_VS_UWS = 1.3;
const TARGET_P99_VS_UWS = 1.1;

export type RushRound = {
	watchers: number;
	/** Every snapshot arrived and held exactly the vendors of its box; only such rounds count. */
	counts: boolean;
	check: SnapshotCheck;
	expectedVendorsPerWatcher: number;
	cpuMs: number;
	usPerWatcher: number;
	mainThreadShare: number;
	/** First connect to last snapshot. */
	openingMs: number;
	/** First watch sent to last watch sent: how "at once" the opening was. */
	watchSpreadMs: number;
	snapshot: ReturnType<typeof latencyStats>;
	clientCpuPercent: number;
};
export type RushFigures = { warmUp?: RushRound; rounds?: RushRound[] };

/** One opening: the watchers connect, watch, get their snapshots, and are closed again; `seed` draws the boxes. */
async function opening(server: Competitor, city: City, procs: ClientProc[], seed: number): Promise<RushRound> {
	await sleep(300); // the previous opening's closes are handled first
	const boxes = boxesInside(CITY_AREA, WATCHERS, BOX_M, seed);
	const expected = boxes.map(box => vendorIdsInCells(city.vendors, bboxCells(box, RES)));
	const parts = split(
		boxes.map(bbox => ({ bbox })),
		procs.length
	);
	await Promise.all(procs.map(p => p.call<WatchersSample>("sample"))); // client CPU from here
	const cpu = cpuSample(server.pid);
	const startedAt = performance.now();
	await Promise.all(
		procs.map((p, i) =>
			p.call(
				"connect",
				{
					url: server.liveUrl,
					watches: parts[i],
					localAddresses: LOCAL_ADDRESSES,
					sampleEvery: 1e9,
					concurrency: parts[i]!.length,
					recordSnapshots: true,
				},
				SNAPSHOT_TIMEOUT_MS
			)
		)
	);
	const records = (
		await Promise.all(procs.map(p => p.call<SnapshotRecord[]>("snapshots", { timeoutMs: SNAPSHOT_TIMEOUT_MS }, SNAPSHOT_TIMEOUT_MS + 5000)))
	).flat();
	const cpuNow = cpuSample(server.pid);
	const openingMs = performance.now() - startedAt;
	const clients = await Promise.all(procs.map(p => p.call<WatchersSample>("sample")));
	await Promise.all(procs.map(p => p.call("close")));
	const check = checkSnapshots(split(expected, procs.length).flat(), records);
	const cpuNs = cpuNsBetween(cpu, cpuNow);
	const sentAt = records.map(r => r.watchSentAt);
	return {
		watchers: WATCHERS,
		counts: check.complete,
		check,
		expectedVendorsPerWatcher: expected.reduce((a, ids) => a + ids.length, 0) / WATCHERS,
		cpuMs: cpuNs / 1e6,
		usPerWatcher: cpuNs / 1000 / WATCHERS,
		mainThreadShare: mainThreadShare(server.pid, cpu, cpuNow),
		openingMs,
		watchSpreadMs: Math.max(...sentAt) - Math.min(...sentAt),
		snapshot: latencyStats(records.flatMap(r => (r.snapshotMs === null ? [] : [r.snapshotMs]))),
		clientCpuPercent: maxCpu(clients),
	} satisfies RushRound;
}

/** The city's vendors stay online but silent during the openings, so the CPU measured is the opening's own. */
export async function rushHour(ctx: BenchContext, stage: string, server: Competitor, city: City, out: RushFigures): Promise<void> {
	await city.client.call("rate", { perVendorHz: 0 });
	const procs = Array.from({ length: WATCHER_PROCS }, (_, i) => forkClient(`rush-watchers-${i}`, "bench/clients/watchers.ts"));
	out.rounds = [];
	try {
		// One opening unmeasured (JIT, first connections), then new viewports every round: no watch repeats an earlier one's.
		out.warmUp = await opening(server, city, procs, SEED);
		ctx.log(
			stage,
			`warm-up opening (not counted): ${out.warmUp.check.snapshots}/${WATCHERS} snapshots in ${fmt(out.warmUp.openingMs, 0)} ms`
		);
		for (let r = 0; r < ctx.rounds; r++) {
			const round = await opening(server, city, procs, SEED + 1 + r);
			out.rounds.push(round);
			const { check, snapshot: s } = round;
			ctx.log(
				stage,
				`opening ${r + 1}/${ctx.rounds}: ${check.snapshots}/${WATCHERS} snapshots (${check.exact} exact, ${fmt(round.expectedVendorsPerWatcher, 1)} vendors each) in ${fmt(round.openingMs, 0)} ms (watches sent within ${fmt(round.watchSpreadMs, 0)} ms), ${fmt(round.usPerWatcher, 0)} µs CPU/watcher (${fmt(round.mainThreadShare * 100, 0)}% main thread), snapshot p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms, clients ≤${fmt(round.clientCpuPercent, 0)}%`
			);
			if (!round.counts)
				ctx.note(
					`${stage} opening ${r + 1}: ${check.snapshots} of ${WATCHERS} snapshots, ${check.exact} exact (${check.missingVendors} vendors missing, ${check.unexpectedVendors} unexpected); not counted`
				);
			if (round.watchSpreadMs > 1000)
				ctx.note(`${stage} opening ${r + 1}: the watches took ${fmt(round.watchSpreadMs, 0)} ms to send (not at once)`);
		}
	} finally {
		await Promise.allSettled(procs.map(p => p.close()));
	}
}

export function rushHourRows(figures: Partial<Record<CompetitorKey, RushFigures>>): Row[] {
	const counted = (k: CompetitorKey) => figures[k]?.rounds?.filter(r => r.counts);
	const incomplete = (k: CompetitorKey) => {
		const all = figures[k]?.rounds ?? [];
		const bad = all.filter(r => !r.counts).length;
		return bad ? ` (INCOMPLETE: ${bad} of ${all.length} rounds not counted)` : "";
	};
	const cpu = (k: CompetitorKey) => med(counted(k), r => r.usPerWatcher);
	const p99 = (k: CompetitorKey) => med(counted(k), r => r.snapshot.p99);
	const cpuVsUws = cpu("engine").median / cpu("uws").median;
	const p99VsUws = p99("engine").median / p99("uws").median;
	const scenario = `${WATCHERS} watchers, ${BOX_M / 1000} km boxes, ${CITY_VENDORS} online`;
	return [
		{
			figure: `9 Rush-hour opening (${scenario}): server CPU per watcher`,
			venta: `${fmtSummary(cpu("engine"), " µs", 0)}${incomplete("engine")}`,
			comparison: `bare uWS ${fmtSummary(cpu("uws"), " µs", 0)}${incomplete("uws")}; ws ${fmtSummary(cpu("ws"), " µs", 0)}${incomplete("ws")}`,
			ratio: `${fmt(cpuVsUws)}× uWS, ${fmt(cpu("engine").median / cpu("ws").median)}× ws`,
			target: `≤ ${TARGET_CPU_VS_UWS}× uWS`,
			result: verdict(atMost(cpuVsUws, TARGET_CPU_VS_UWS)),
		},
		{
			figure: "9 Rush-hour opening: watch → snapshot latency",
			venta: `p50 ${fmt(med(counted("engine"), r => r.snapshot.p50).median)} / p99 ${fmtSummary(p99("engine"), " ms")}`,
			comparison: `bare uWS p99 ${fmtSummary(p99("uws"), " ms")}; ws p99 ${fmt(p99("ws").median)} ms`,
			ratio: `${fmt(p99VsUws)}× uWS p99`,
			target: `p99 ≤ ${TARGET_P99_VS_UWS}× uWS`,
			result: verdict(atMost(p99VsUws, TARGET_P99_VS_UWS)),
		},
	];
}
