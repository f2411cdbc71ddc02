/**
 * `npm run bench [-- --quick] [-- --only live,cluster,nearby,everyday-ingest,downtown,rush,rest,alerts,interest] [-- --profile]`
 *
 * Starts the real engine (server.ts) and the two competitors written here (a `ws` server with
 * an in-memory map, a bare uWS pub/sub loop), drives each with the same load generators in
 * separate processes, reads each server's CPU time from /proc, prints one table and writes
 * bench/results.json. The everyday-load stages of issue 14 live in bench/stages/. See
 * docs/performance.md for what each figure means.
 */
import { writeFileSync, mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { buildScenario, type Scenario } from "./lib/geometry.ts";
import type { ClientProc } from "./lib/ipc.ts";
import { cpuNsBetween, cpuSample, killAllChildren, machineInfo, openFilesLimit, rssBytes } from "./lib/proc.ts";
import { sleep } from "./lib/engine.ts";
import { fmt, fmtSummary, summarize } from "./lib/stats.ts";
import type { BenchContext } from "./lib/context.ts";
import { COMPETITOR_KEYS, placeVendors, startCompetitor, type Competitor, type CompetitorKey } from "./lib/competitors.ts";
import { connectVendors, connectWatchers, forkClient } from "./lib/load.ts";
import { measureFanout, measureIngest } from "./lib/phases.ts";
import { atMost, med, printTable, shortMark, verdict, type Row } from "./lib/table.ts";
import { EVERYDAY_STAGES, everydayRows, everydayStages, FRESH_SERVER_WARM_MS, type EverydayFigures } from "./stages/everyday.ts";
import type { NearbyResult, NearbyRun } from "./clients/nearby.ts";
import { alertsStage } from "./stages/alerts.ts";
import { alertsRows } from "./stages/alerts-rows.ts";
import { interestRows, interestStage } from "./stages/interest.ts";
import { CLUSTER_LOAD, clusterStage, describeClusterLoad } from "./stages/cluster.ts";
import { clusterRows } from "./stages/cluster-rows.ts";

const { values: args } = parseArgs({
	options: {
		quick: { type: "boolean", default: false },
		only: { type: "string" },
		competitors: { type: "string", default: "engine,ws,uws" },
		profile: { type: "boolean", default: false },
	},
});

const NATS_URL = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Offered load and repetitions; --quick keeps the same shape, smaller. */
const MODE = args.quick
	? {
			name: "quick" as const,
			vendors: 200,
			watchers: 1000,
			ingestHz: 10,
			fanoutHz: 2,
			rounds: 3,
			windowMs: 800,
			warmMs: 600,
			idleWatchers: 2000,
			idleSteps: 1,
			nearbyVendors: 100_000,
			nearbyQueries: 100,
			// The everyday stages' loads are small and fixed: quick shortens their rounds instead.
			everydayWindowMs: 500,
			everydayWarmMs: 400,
		}
	: {
			name: "full" as const,
			vendors: 1000,
			watchers: 5000,
			ingestHz: 5,
			fanoutHz: 1,
			rounds: 5,
			windowMs: 5000,
			warmMs: 3000,
			idleWatchers: 20_000,
			idleSteps: 3,
			nearbyVendors: 100_000,
			nearbyQueries: 1000,
			everydayWindowMs: 5000,
			everydayWarmMs: 3000,
		};
const VENDORS_PER_CELL = 2;
const CELLS_PER_WATCHER = 5;
const WATCHER_PROCS = 2;
const IDLE_PER_PROC = 5000;
/** Issue 14's targets for the live stage's figures: ratios to the bare uWS ceiling measured in the same run. */
const INGEST_TARGET_VS_UWS = 1.5;
const INGEST_TARGET_MAIN_THREAD = 0.85;
const FANOUT_TARGET_VS_UWS = 1.2;

const ALL_STAGES = ["live", "cluster", "nearby", ...EVERYDAY_STAGES, "alerts", "interest"];
const stages = new Set((args.only ?? ALL_STAGES.join(",")).split(",").map(s => s.trim()));
const unknown = [...stages].filter(s => !ALL_STAGES.includes(s));
if (unknown.length) {
	process.stderr.write(`unknown stage(s) ${unknown.join(", ")}; stages are ${ALL_STAGES.join(", ")}\n`);
	process.exit(2);
}
const t0 = Date.now();
const log = (stage: string, message: string) => {
	const s = Math.round((Date.now() - t0) / 1000);
	process.stdout.write(`[${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}] ${stage}: ${message}\n`);
};

type Results = Record<string, any>;
const results: Results = {
	machine: machineInfo(),
	mode: MODE.name,
	startedAt: new Date().toISOString(),
	load: {},
	figures: {},
	notes: [] as string[],
	/** 1-minute load average after each stage: other work on the machine shows up here. */
	loadAverage: {} as Record<string, number | undefined>,
	failures: [] as { stage: string; error: string }[],
};

const ctx: BenchContext = {
	quick: args.quick,
	profile: args.profile,
	rounds: MODE.rounds,
	windowMs: MODE.windowMs,
	warmMs: MODE.warmMs,
	latencySampleEvery: args.quick ? 5 : 20,
	log,
	note: message => results.notes.push(message),
	async attempt(name, fn) {
		log(name, `starting (machine load average ${loadavg()[0]!.toFixed(2)})`);
		try {
			await fn();
			results.loadAverage[name] = loadavg()[0];
			log(name, `done (load average ${loadavg()[0]!.toFixed(2)})`);
		} catch (err) {
			const message = (err as Error).message;
			results.failures.push({ stage: name, error: message });
			process.stdout.write(`\n✗ stage "${name}" failed: ${message}\n\n`);
		}
	},
};

/**
 * 4. Idle sockets, measured first on a fresh server (no garbage of earlier phases in the heap):
 * RSS growth per connected watcher, each watching one cell, no traffic. Added in steps.
 */
async function idleSockets(stage: string, server: Competitor, scenario: Scenario, figures: Results): Promise<void> {
	const clients: ClientProc[] = [];
	try {
		await sleep(args.quick ? 200 : 500);
		const limit = openFilesLimit(server.pid);
		const idleN = Math.min(MODE.idleWatchers, Number.isFinite(limit) ? limit - 500 : MODE.idleWatchers);
		if (idleN < MODE.idleWatchers)
			ctx.note(
				`idle sockets: ${idleN} instead of ${MODE.idleWatchers} (the server's open-files limit is ${limit} and cannot be raised here)`
			);
		const steps = MODE.idleSteps;
		const perStep = Math.floor(idleN / steps);
		const allCells = scenario.cells.flat();
		let rssBefore = rssBytes(server.pid);
		const rssStart = rssBefore;
		for (let s = 0; s < steps; s++) {
			const watches = Array.from({ length: perStep }, (_, i) => ({ cells: [allCells[(s * perStep + i) % allCells.length]!] }));
			const procs = Math.max(1, Math.ceil(perStep / IDLE_PER_PROC));
			clients.push(...(await connectWatchers(ctx, stage, server.liveUrl, watches, procs, { sampleEvery: 1e9 })));
			await sleep(args.quick ? 500 : 2000);
			const rss = rssBytes(server.pid);
			figures.idle.push({ sockets: perStep, rssBefore, rssAfter: rss, bytesPerSocket: (rss - rssBefore) / perStep });
			log(
				stage,
				`idle step ${s + 1}/${steps}: +${perStep} sockets, RSS ${fmt(rssBefore / 2 ** 20, 1)} → ${fmt(rss / 2 ** 20, 1)} MB = ${fmt((rss - rssBefore) / perStep / 1024)} KB/socket`
			);
			rssBefore = rss;
		}
		figures.idleTotal = { sockets: perStep * steps, bytesPerSocket: (rssBefore - rssStart) / (perStep * steps) };
	} finally {
		await Promise.allSettled(clients.map(c => c.close()));
	}
	await sleep(args.quick ? 300 : 1000); // the server handles the closes before the next phase
}

/** One competitor through idle memory, ingest, fan-out and latency. */
async function liveStage(key: CompetitorKey, scenario: Scenario, out: Results): Promise<void> {
	const stage = `live/${key}`;
	const figures: Results = { ingest: [], fanout: [], latency: [], idle: [] };
	out[key] = figures;
	const server = await startCompetitor(ctx, stage, key, { vendors: scenario.vendors.length });
	const clients: ClientProc[] = [];
	try {
		await idleSockets(stage, server, scenario, figures);
		const vendorsClient = forkClient("vendors", "bench/clients/vendors.ts");
		clients.push(vendorsClient);
		const open = await connectVendors(ctx, stage, vendorsClient, server.liveUrl, placeVendors(server.identities, scenario.vendors));
		log(stage, `${open} vendor sockets connected; ingest at ${MODE.ingestHz} Hz each (${open * MODE.ingestHz} positions/s offered)`);

		// Warm-up (JIT, first-write paths), then idle: sockets open, no traffic (background work, for reference).
		await vendorsClient.call("rate", { perVendorHz: MODE.ingestHz });
		await sleep(MODE.warmMs);
		if (!args.quick) {
			await vendorsClient.call("rate", { perVendorHz: 0 });
			await sleep(300);
			const idleCpu = cpuSample(server.pid);
			await sleep(MODE.windowMs / 2);
			figures.idleCpuPercent = (cpuNsBetween(idleCpu, cpuSample(server.pid)) / 1e6 / (MODE.windowMs / 2)) * 100;
			log(stage, `idle server CPU ${fmt(figures.idleCpuPercent, 2)}% with ${open} vendor sockets open`);
		}

		// 1. Ingest: vendors only, nobody watching.
		const ingest = await measureIngest(ctx, stage, server, vendorsClient, MODE.ingestHz, MODE.warmMs / 2);
		figures.ingest = ingest.rounds;
		figures.ingestAccepted = ingest.accepted;

		// 2 + 3. Fan-out and latency: every cell watched by the same number of watchers.
		const watchSets = scenario.watchSets.flat();
		const watchers = await connectWatchers(
			ctx,
			stage,
			server.liveUrl,
			watchSets.map(cells => ({ cells })),
			WATCHER_PROCS,
			{ expectVendors: watchSets.length * scenario.vendorsPerWatcher }
		);
		clients.push(...watchers);
		await vendorsClient.call("rate", { perVendorHz: MODE.fanoutHz });
		log(
			stage,
			`fan-out at ${MODE.fanoutHz} Hz per vendor: ${open * MODE.fanoutHz} positions/s × ${scenario.fanOut} watchers = ${open * MODE.fanoutHz * scenario.fanOut} deliveries/s offered`
		);
		const fanout = await measureFanout(ctx, stage, server, vendorsClient, watchers, scenario.fanOut, MODE.warmMs);
		figures.fanout = fanout.rounds;
		figures.delivery = fanout.delivery;
		await vendorsClient.call("close", {}, 30_000);
	} finally {
		await Promise.allSettled(clients.map(c => c.close()));
		await server.stop();
	}
}

async function nearbyStage(out: Results): Promise<void> {
	const client = forkClient("nearby", "bench/clients/nearby.ts");
	try {
		log(
			"nearby",
			`${MODE.nearbyVendors} online vendors in a 40 km × 40 km area: embedded store, Redis store, raw GEOSEARCH (radius 1 km, limit 50)`
		);
		const res = await client.call<NearbyResult>(
			"run",
			{
				redisUrl: REDIS_URL,
				vendors: MODE.nearbyVendors,
				queriesPerRound: MODE.nearbyQueries,
				rounds: MODE.rounds,
				radius: 1000,
				limit: 50,
				res: 8,
			} satisfies NearbyRun,
			600_000
		);
		Object.assign(out, res);
		for (const k of ["memory", "redis", "raw"] as const) {
			log(
				"nearby",
				`${k}: p50 ${res[k].map(r => fmt(r.p50, 3)).join(" / ")} ms, p99 ${res[k].map(r => fmt(r.p99, 3)).join(" / ")} ms (per round), ${fmt(res.hitsPerQuery[k], 1)} hits/query`
			);
		}
	} finally {
		await client.close();
	}
}

// ---------------------------------------------------------------- table

function buildTable(): Row[] {
	const f = results.figures;
	return [
		...(f.live || f.cluster || f.nearby ? liveRows(f) : []),
		...clusterRows(f.cluster),
		...everydayRows(f),
		...alertsRows(f.alerts),
		...interestRows(f.interest),
	];
}

/** Figures 1–5: the live and nearby stages, and the cluster stage's latency across nodes. */
function liveRows(f: Results): Row[] {
	const rows: Row[] = [];
	const live = f.live ?? {};
	const [e, w, u] = [live.engine, live.ws, live.uws];

	// 1. Ingest (issue 14 replaced the absolute targets, ≤ 20 µs and ≥ 50 000/s per core, by ratios to bare uWS).
	const ingest = med(e?.ingest, (r: any) => r.usPerPosition);
	const ingestWs = med(w?.ingest, (r: any) => r.usPerPosition);
	const ingestUws = med(u?.ingest, (r: any) => r.usPerPosition);
	const mainShare = med(e?.ingest, (r: any) => r.mainThreadShare).median;
	const ingestMet = atMost(ingest.median / ingestUws.median, INGEST_TARGET_VS_UWS);
	rows.push({
		figure: "1 Ingest: server CPU per position",
		venta: `${fmtSummary(ingest, " µs")}${shortMark(e?.ingestAccepted)}, ${fmt(mainShare * 100, 0)}% on the main thread`,
		comparison: `ws ${fmtSummary(ingestWs, " µs")}${shortMark(w?.ingestAccepted)}; bare uWS ${fmtSummary(ingestUws, " µs")}${shortMark(u?.ingestAccepted)}`,
		ratio: `${fmt(ingest.median / ingestWs.median)}× ws, ${fmt(ingest.median / ingestUws.median)}× uWS`,
		target: `≤ ${INGEST_TARGET_VS_UWS}× uWS, ≥ ${INGEST_TARGET_MAIN_THREAD * 100}% main thread`,
		result: verdict(ingestMet === undefined ? undefined : ingestMet && mainShare >= INGEST_TARGET_MAIN_THREAD),
	});
	rows.push({
		figure: "1 Ingest: implied positions/s per core",
		venta: fmt(1e6 / ingest.median, 0),
		comparison: `ws ${fmt(1e6 / ingestWs.median, 0)}; bare uWS ${fmt(1e6 / ingestUws.median, 0)}`,
		ratio: `${fmt(ingestWs.median / ingest.median)}× ws`,
		target: "—",
		result: "—",
	});

	// 2. Fan-out
	const fan = med(e?.fanout, (r: any) => r.usPerDelivery);
	const fanWs = med(w?.fanout, (r: any) => r.usPerDelivery);
	const fanUws = med(u?.fanout, (r: any) => r.usPerDelivery);
	rows.push({
		figure: "2 Fan-out: server CPU per delivered message vs ws",
		venta: fmtSummary(fan, " µs", 3) + shortMark(e?.delivery),
		comparison: `ws baseline ${fmtSummary(fanWs, " µs", 3)}${shortMark(w?.delivery)}`,
		ratio: `${fmt(fan.median / fanWs.median, 3)}`,
		target: "≤ 0.2 (1/5)",
		result: verdict(atMost(fan.median / fanWs.median, 0.2)),
	});
	rows.push({
		figure: "2 Fan-out: vs bare uWS ceiling",
		venta: fmtSummary(fan, " µs", 3),
		comparison: `bare uWS ${fmtSummary(fanUws, " µs", 3)}${shortMark(u?.delivery)}`,
		ratio: `${fmt(fan.median / fanUws.median)}`,
		target: `≤ ${FANOUT_TARGET_VS_UWS}`,
		result: verdict(atMost(fan.median / fanUws.median, FANOUT_TARGET_VS_UWS)),
	});
	// 3. Latency
	const p = (list: any[] | undefined, k: "p50" | "p99" | "max") => med(list, (r: any) => r.latency[k]);
	const latCell = (list: any[] | undefined) =>
		`p50 ${fmt(p(list, "p50").median)} / p99 ${fmtSummary(p(list, "p99"))} / max ${fmt(p(list, "max").max)} ms`;
	rows.push({
		figure: "3 Latency vendor → watcher, one node",
		venta: latCell(e?.fanout),
		comparison: `ws p99 ${fmt(p(w?.fanout, "p99").median)} ms; bare uWS p99 ${fmt(p(u?.fanout, "p99").median)} ms`,
		ratio: `${fmt(p(e?.fanout, "p99").median / p(w?.fanout, "p99").median)}× ws p99`,
		target: "p99 ≤ 25 ms",
		result: verdict(e?.fanout?.length ? p(e.fanout, "p99").median <= 25 : undefined),
	});
	const cl = f.cluster?.rounds;
	rows.push({
		figure: "3 Latency across nodes over a 3-server NATS cluster",
		venta: cl ? latCell(cl) + shortMark(f.cluster?.delivery) : "n/a",
		comparison: `one node p99 ${fmt(p(e?.fanout, "p99").median)} ms`,
		ratio: `${fmt(p(cl, "p99").median / p(e?.fanout, "p99").median)}× one node`,
		target: "p99 ≤ 40 ms",
		result: verdict(cl?.length ? p(cl, "p99").median <= 40 : undefined),
	});

	// 4. Idle memory
	const idle = (x: any) => med(x?.idle, (r: any) => r.bytesPerSocket / 1024);
	const n = e?.idleTotal?.sockets ?? w?.idleTotal?.sockets;
	rows.push({
		figure: `4 RSS per idle watcher socket (N = ${n ?? "?"})`,
		venta: fmtSummary(idle(e), " KB"),
		comparison: `ws ${fmtSummary(idle(w), " KB")}; bare uWS ${fmtSummary(idle(u), " KB")}`,
		ratio: `${fmt(idle(e).median / idle(w).median)}× ws`,
		target: "≤ 6 KB",
		result: verdict(e?.idle?.length ? idle(e).median <= 6 : undefined),
	});

	// 5. nearby (REST nearby is figure 10, with /health/live and vendor reads)
	const nb = f.nearby;
	if (nb?.memory) {
		const s = (k: string, q: "p50" | "p99") => summarize(nb[k].map((r: any) => r[q]));
		const raw99 = s("raw", "p99").median;
		for (const [k, label] of [
			["memory", "embedded"],
			["redis", "Redis"],
		] as const) {
			const p99 = s(k, "p99").median;
			rows.push({
				figure: `5 nearby, ${label} store, ${fmt(MODE.nearbyVendors, 0)} online`,
				venta: `p50 ${fmtSummary(s(k, "p50"), " ms", 3)} / p99 ${fmtSummary(s(k, "p99"), " ms", 3)}`,
				comparison: `raw GEOSEARCH p50 ${fmt(s("raw", "p50").median, 3)} / p99 ${fmt(raw99, 3)} ms`,
				ratio: `${fmt(p99 / raw99)}× raw p99`,
				target: "p99 ≤ 5 ms, ≤ 2× raw",
				result: verdict(p99 <= 5 && p99 <= 2 * raw99),
			});
		}
	}

	return rows;
}

// ---------------------------------------------------------------- main

process.on("SIGINT", () => {
	killAllChildren();
	process.exit(130);
});

const scenario = buildScenario({
	vendors: MODE.vendors,
	watchers: MODE.watchers,
	vendorsPerCell: VENDORS_PER_CELL,
	cellsPerWatcher: CELLS_PER_WATCHER,
});
results.load = {
	vendors: MODE.vendors,
	watchers: MODE.watchers,
	vendorsPerWatcher: scenario.vendorsPerWatcher,
	watchersPerVendor: scenario.fanOut,
	ingest: `${MODE.vendors} vendors × ${MODE.ingestHz} Hz = ${MODE.vendors * MODE.ingestHz} positions/s, no watchers`,
	fanout: `${MODE.vendors} vendors × ${MODE.fanoutHz} Hz, ${MODE.watchers} watchers × ${scenario.vendorsPerWatcher} vendors each = ${MODE.vendors * MODE.fanoutHz * scenario.fanOut} deliveries/s`,
	everydayIngest: "2 000 positions/s as 200 vendors × 10 Hz and as 2 000 vendors × 1 Hz, no watchers",
	downtown: "200 vendors × 1 Hz in 1.5 km², 200 watchers of the whole area = 40 000 deliveries/s (and with LIVE_FLUSH_MS=50)",
	rush: "200 vendors online in 6 km × 6 km, 500 watchers connect at once and watch a 3 km × 3 km box each",
	rest: "200 vendors online, 32 connections: /health/live, /api/discovery/nearby r = 1 km, /api/vendors/:id",
	cluster: describeClusterLoad(CLUSTER_LOAD[MODE.name]),
	alerts:
		"200 vendors × 10 Hz with 0, 10 000, 100 000 alerts; then 100 drive vendors crossing circles at 1 Hz, 320 customer sockets, one webhook endpoint",
	interest:
		"4 simulators at 1 Hz (following interest / --ignore-interest × a watched / an unwatched area), 10 watcher sockets on the watched area",
	rounds: MODE.rounds,
	windowMs: MODE.windowMs,
};
log(
	"bench",
	`${MODE.name} mode on ${results.machine.cores} × ${results.machine.cpuModel}, Node ${results.machine.node}; stages ${[...stages].join(", ")}`
);
if (args.profile) mkdirSync("bench/profiles", { recursive: true });

try {
	const wanted = new Set(args.competitors.split(",").map(c => c.trim()));
	const competitors = COMPETITOR_KEYS.filter(k => wanted.has(k));
	if (stages.has("live")) {
		results.figures.live = {};
		for (const key of competitors) await ctx.attempt(`live/${key}`, () => liveStage(key, scenario, results.figures.live));
	}
	if (stages.has("cluster")) {
		results.figures.cluster = {};
		// Eight engines share the machine: longer rounds than the one-node stages' quick ones.
		const pace = { ...ctx, windowMs: Math.max(MODE.windowMs, 1500), warmMs: Math.max(MODE.warmMs, 1000) };
		await ctx.attempt("cluster", () => clusterStage(pace, results.figures.cluster, CLUSTER_LOAD[MODE.name]));
	}
	if (stages.has("nearby")) {
		results.figures.nearby = {};
		await ctx.attempt("nearby", () => nearbyStage(results.figures.nearby));
	}
	const everyday = new Set(EVERYDAY_STAGES.filter(s => stages.has(s)));
	if (everyday.size) {
		const figures: Partial<EverydayFigures> = {};
		for (const s of everyday) figures[s] = {};
		Object.assign(results.figures, figures);
		const pace = { ...ctx, windowMs: MODE.everydayWindowMs, warmMs: MODE.everydayWarmMs };
		await everydayStages(pace, everyday, competitors, figures as EverydayFigures);
	}
	if (stages.has("alerts") && competitors.includes("engine")) {
		results.figures.alerts = { ingest: [] };
		// Its targets are ratios to the 0-alert figure: quick's 0.5 s rounds vary by ±20%, 1 s rounds less.
		const pace = { ...ctx, windowMs: Math.max(MODE.everydayWindowMs, 1000), warmMs: MODE.everydayWarmMs };
		await ctx.attempt("alerts", () =>
			alertsStage(pace, results.figures.alerts, Math.max(MODE.everydayWarmMs, FRESH_SERVER_WARM_MS), NATS_URL)
		);
	}
	if (stages.has("interest") && competitors.includes("engine")) {
		results.figures.interest = {};
		await ctx.attempt("interest", () => interestStage(ctx, results.figures.interest));
	}
} finally {
	killAllChildren();
}

const rows = buildTable();
results.table = rows;
results.durationS = Math.round((Date.now() - t0) / 1000);
printTable(rows);
process.stdout.write(
	`Load: ${results.load.fanout}; ingest ${results.load.ingest}. ${MODE.rounds} rounds of ${MODE.windowMs / 1000} s; values are median [min–max] over rounds.\n` +
		`Everyday (7–10): ${results.load.everydayIngest}; downtown ${results.load.downtown}; rush hour ${results.load.rush}; REST ${results.load.rest}.\n` +
		`Machine: ${results.machine.cores} × ${results.machine.cpuModel}, Node ${results.machine.node}; load average ${Object.values(
			results.loadAverage
		)
			.map(v => (v as number).toFixed(1))
			.join(", ")} after the stages. Took ${results.durationS} s.\n`
);
results.notes = [...new Set(results.notes)];
for (const note of results.notes) process.stdout.write(`note: ${note}\n`);
for (const failure of results.failures) process.stdout.write(`FAILED stage ${failure.stage}: ${failure.error.split("\n")[0]}\n`);
writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2));
process.stdout.write("wrote bench/results.json\n");
process.exit(results.failures.length ? 1 : 0);
