/**
 * `npm run bench [-- --quick] [-- --only live,cluster,nearby] [-- --profile]`
 *
 * Starts the real engine (server.ts) and the two competitors written here (a `ws` server with
 * an in-memory map, a bare uWS pub/sub loop), drives each with the same load generators in
 * separate processes, reads each server's CPU time from /proc, prints one table and writes
 * bench/results.json. See README "Performance" for what each figure means.
 */
import { writeFileSync, mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";
import { AREAS, buildScenario, split, type Scenario } from "./lib/geometry.ts";
import { ClientProc } from "./lib/ipc.ts";
import {
	cpuNsBetween,
	cpuSample,
	forkScript,
	killAllChildren,
	machineInfo,
	mainThreadShare,
	openFilesLimit,
	rssBytes,
	spawnScript,
} from "./lib/proc.ts";
import { freePort } from "../test/helpers/ports.ts";
import { liveCounters, onboardVendors, sleep, startEngine, waitForHttp, type EngineNode } from "./lib/engine.ts";
import { fmt, fmtSummary, latencyStats, summarize, type Summary } from "./lib/stats.ts";
import type { BenchVendor, VendorsConnected, VendorsSample } from "./clients/vendors.ts";
import type { WatchersSample } from "./clients/watchers.ts";
import type { HttpLoadResult, HttpLoadRun } from "./clients/http-load.ts";
import type { NearbyResult, NearbyRun } from "./clients/nearby.ts";

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
const LOCAL_ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** Offered load and repetitions; --quick keeps the same shape, smaller. */
const MODE = args.quick
	? {
			name: "quick",
			vendors: 200,
			watchers: 1000,
			ingestHz: 10,
			fanoutHz: 2,
			rounds: 3,
			windowMs: 800,
			warmMs: 600,
			idleWatchers: 2000,
			idleSteps: 1,
			restRoundS: 1,
			nearbyVendors: 100_000,
			nearbyQueries: 100,
		}
	: {
			name: "full",
			vendors: 1000,
			watchers: 5000,
			ingestHz: 5,
			fanoutHz: 1,
			rounds: 5,
			windowMs: 5000,
			warmMs: 3000,
			idleWatchers: 20_000,
			idleSteps: 3,
			restRoundS: 5,
			nearbyVendors: 100_000,
			nearbyQueries: 1000,
		};
const VENDORS_PER_CELL = 2;
const CELLS_PER_WATCHER = 5;
const WATCHER_PROCS = 2;
const IDLE_PER_PROC = 5000;
const LATENCY_SAMPLE_EVERY = args.quick ? 5 : 20;
const SHORTFALL = 0.99;

const stages = new Set((args.only ?? "live,cluster,nearby").split(",").map(s => s.trim()));
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

class StageError extends Error {}

/** A server under test: the engine or a competitor, with its pid (for /proc) and its counters. */
type Competitor = {
	key: "engine" | "ws" | "uws";
	label: string;
	pid: number;
	liveUrl: string;
	counters(): Promise<{ positionsIn: number; deliveries: number }>;
	vendors: BenchVendor[];
	stop(): Promise<void>;
	engine?: EngineNode;
};

async function startCompetitor(key: Competitor["key"], scenario: Scenario): Promise<Competitor> {
	if (key === "engine") {
		const engine = await startEngine("engine", {}, args.profile ? ["--cpu-prof", "--cpu-prof-dir=bench/profiles"] : []);
		log("live/engine", `engine up (pid ${engine.proc.pid}); onboarding ${scenario.vendors.length} vendors over REST`);
		const onboarded = await onboardVendors(engine.baseUrl, scenario.vendors.length, `bench${randomUUID().slice(0, 6)}`, done =>
			log("live/engine", `onboarded ${done}`)
		);
		return {
			key,
			label: "Venta engine",
			pid: engine.proc.pid,
			liveUrl: engine.liveUrl,
			counters: () => liveCounters(engine),
			vendors: scenario.vendors.map((v, i) => ({ id: onboarded[i]!.id, token: onboarded[i]!.token, lat: v.lat, lng: v.lng })),
			stop: () => engine.proc.stop(20_000),
			engine,
		};
	}
	const port = await freePort();
	const proc = spawnScript(key === "ws" ? "ws-baseline" : "uws-bare", "bench/servers/serve.ts", [key, String(port)], {});
	await waitForHttp(`http://127.0.0.1:${port}/stats`, proc);
	return {
		key,
		label: key === "ws" ? "ws baseline" : "bare uWS",
		pid: proc.pid,
		liveUrl: `ws://127.0.0.1:${port}/live`,
		counters: async () => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { positionsIn: number; deliveries: number },
		vendors: scenario.vendors.map(v => ({ id: `v${v.index}`, lat: v.lat, lng: v.lng })),
		stop: () => proc.stop(),
	};
}

async function forkClient(name: string, script: string): Promise<ClientProc> {
	return new ClientProc(forkScript(name, script));
}

async function connectWatchers(
	stage: string,
	url: string,
	watchSets: string[][],
	procs: number,
	opts: { expectVendors?: number; sampleEvery?: number } = {}
): Promise<ClientProc[]> {
	const clients = await Promise.all(Array.from({ length: procs }, (_, i) => forkClient(`watchers-${i}`, "bench/clients/watchers.ts")));
	const parts = split(watchSets, procs);
	const opened = await Promise.all(
		clients.map((c, i) =>
			c.call<{ open: number }>(
				"connect",
				{ url, watchSets: parts[i], localAddresses: LOCAL_ADDRESSES, sampleEvery: opts.sampleEvery ?? LATENCY_SAMPLE_EVERY },
				180_000
			)
		)
	);
	const open = opened.reduce((a, o) => a + o.open, 0);
	if (open !== watchSets.length) throw new StageError(`${open} of ${watchSets.length} watcher sockets connected`);
	// Every socket subscribed: one snapshot each (answers arrive after the watch frames).
	const deadline = Date.now() + 60_000;
	let snapshots = 0;
	let vendors = 0;
	while (Date.now() < deadline) {
		const samples = await Promise.all(clients.map(c => c.call<WatchersSample>("sample")));
		snapshots = samples.reduce((a, s) => a + s.snapshots, 0);
		vendors = samples.reduce((a, s) => a + s.snapshotVendors, 0);
		if (snapshots === watchSets.length) break;
		await sleep(200);
	}
	if (snapshots !== watchSets.length) throw new StageError(`${snapshots} of ${watchSets.length} watchers got their snapshot`);
	const vendorNote = opts.expectVendors === undefined ? "" : `, ${vendors} of ${opts.expectVendors} expected vendors in snapshots`;
	log(stage, `${open} watchers connected and subscribed (${snapshots} snapshots${vendorNote})`);
	if (opts.expectVendors !== undefined && vendors !== opts.expectVendors) {
		results.notes.push(`${stage}: snapshots held ${vendors} vendors, expected ${opts.expectVendors}`);
	}
	return clients;
}

/** Every vendor socket open; one the server dropped right after opening (and was reconnected) is noted. */
function checkVendorSockets(stage: string, c: VendorsConnected, expected: number): VendorsConnected {
	if (c.reconnected > 0)
		results.notes.push(
			`${stage}: the server dropped ${c.reconnected} vendor socket(s) right after opening (${JSON.stringify(c.dropped)}); reconnected`
		);
	if (c.open !== expected)
		throw new StageError(
			`${c.open} of ${expected} vendor sockets open (closed: ${JSON.stringify(c.dropped)}, errors: ${JSON.stringify(c.errors)})`
		);
	return c;
}

/** The vendors' and every watcher's counters since their last sample; deliveries against what the sent positions should fan out to. */
async function sampleClients(vendorsClient: ClientProc, watchers: ClientProc[], scenario: Scenario) {
	const [vs, ...ws] = await Promise.all([
		vendorsClient.call<VendorsSample>("sample"),
		...watchers.map(w => w.call<WatchersSample>("sample")),
	]);
	return { vs, ws, delivered: ws.reduce((a, s) => a + s.pos, 0), expected: vs.sent * scenario.fanOut };
}

/** Stops the vendors, waits for frames in flight, and totals deliveries against what was sent. */
async function drainDeliveries(
	vendorsClient: ClientProc,
	watchers: ClientProc[],
	scenario: Scenario,
	rounds: { delivered: number; expected: number }[]
) {
	await vendorsClient.call("rate", { perVendorHz: 0 });
	await sleep(500);
	const last = await sampleClients(vendorsClient, watchers, scenario);
	const delivered = rounds.reduce((a, r) => a + r.delivered, 0) + last.delivered;
	const expected = rounds.reduce((a, r) => a + r.expected, 0) + last.expected;
	return { delivered, expected, ratio: delivered / expected };
}

const sumCpu = (samples: { cpuPercent: number }[]) => Math.max(0, ...samples.map(s => s.cpuPercent));

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
			results.notes.push(
				`idle sockets: ${idleN} instead of ${MODE.idleWatchers} (the server's open-files limit is ${limit} and cannot be raised here)`
			);
		const steps = MODE.idleSteps;
		const perStep = Math.floor(idleN / steps);
		const allCells = scenario.cells.flat();
		let rssBefore = rssBytes(server.pid);
		const rssStart = rssBefore;
		for (let s = 0; s < steps; s++) {
			const sets = Array.from({ length: perStep }, (_, i) => [allCells[(s * perStep + i) % allCells.length]!]);
			const idle = await connectWatchers(stage, server.liveUrl, sets, Math.max(1, Math.ceil(perStep / IDLE_PER_PROC)), {
				sampleEvery: 1e9,
			});
			clients.push(...idle);
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

/** One competitor through idle memory, ingest, fan-out (+ latency) and REST nearby (engine). */
async function liveStage(key: Competitor["key"], scenario: Scenario, out: Results): Promise<void> {
	const stage = `live/${key}`;
	const figures: Results = { ingest: [], fanout: [], latency: [], idle: [] };
	out[key] = figures;
	const server = await startCompetitor(key, scenario);
	const clients: ClientProc[] = [];
	try {
		await idleSockets(stage, server, scenario, figures);
		const vendorsClient = await forkClient("vendors", "bench/clients/vendors.ts");
		clients.push(vendorsClient);
		const connected = await vendorsClient.call<VendorsConnected>(
			"connect",
			{ url: server.liveUrl, vendors: server.vendors, localAddresses: LOCAL_ADDRESSES },
			120_000
		);
		const { open } = checkVendorSockets(stage, connected, server.vendors.length);
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
		await vendorsClient.call("rate", { perVendorHz: MODE.ingestHz });
		await sleep(MODE.warmMs / 2);
		// The server's counters are read once around the phase (a scrape costs CPU and waits for a busy loop).
		const countersStart = await server.counters();
		await vendorsClient.call("sample");
		let cpu = cpuSample(server.pid);
		let sentTotal = 0;
		for (let r = 0; r < MODE.rounds; r++) {
			await sleep(MODE.windowMs);
			const cpuNow = cpuSample(server.pid);
			const vs = await vendorsClient.call<VendorsSample>("sample");
			const cpuNs = cpuNsBetween(cpu, cpuNow);
			sentTotal += vs.sent;
			const round = {
				sent: vs.sent,
				cpuMs: cpuNs / 1e6,
				usPerPosition: cpuNs / 1000 / vs.sent,
				mainThreadShare: mainThreadShare(server.pid, cpu, cpuNow),
				serverCpuPercent: (cpuNs / 1e6 / vs.wallMs) * 100,
				clientCpuPercent: vs.cpuPercent,
				errors: vs.errors,
			};
			figures.ingest.push(round);
			log(
				stage,
				`ingest round ${r + 1}/${MODE.rounds}: ${vs.sent} positions, ${fmt(round.usPerPosition)} µs CPU/position, server ${fmt(round.serverCpuPercent, 1)}% CPU (${fmt(round.mainThreadShare * 100, 0)}% on its main thread), client ${fmt(vs.cpuPercent, 1)}%`
			);
			cpu = cpuNow;
		}
		await vendorsClient.call("rate", { perVendorHz: 0 });
		await sleep(500);
		sentTotal += (await vendorsClient.call<VendorsSample>("sample")).sent;
		const accepted = (await server.counters()).positionsIn - countersStart.positionsIn;
		figures.ingestAccepted = { sent: sentTotal, accepted, ratio: accepted / sentTotal };
		log(stage, `ingest: server accepted ${accepted} of ${sentTotal} positions sent (${fmt((accepted / sentTotal) * 100, 2)}%)`);
		if (accepted < sentTotal * SHORTFALL)
			results.notes.push(`${stage}: the server accepted only ${accepted} of ${sentTotal} positions sent`);

		// 2 + 3. Fan-out and latency: every cell watched by the same number of watchers.
		const watchers = await connectWatchers(stage, server.liveUrl, scenario.watchSets.flat(), WATCHER_PROCS, {
			expectVendors: key === "uws" ? undefined : scenario.watchSets.flat().length * scenario.vendorsPerWatcher,
		});
		clients.push(...watchers);
		await vendorsClient.call("rate", { perVendorHz: MODE.fanoutHz });
		log(
			stage,
			`fan-out at ${MODE.fanoutHz} Hz per vendor: ${open * MODE.fanoutHz} positions/s × ${scenario.fanOut} watchers = ${open * MODE.fanoutHz * scenario.fanOut} deliveries/s offered`
		);
		await sleep(MODE.warmMs);
		await sampleClients(vendorsClient, watchers, scenario);
		cpu = cpuSample(server.pid);
		for (let r = 0; r < MODE.rounds; r++) {
			await sleep(MODE.windowMs);
			const cpuNow = cpuSample(server.pid);
			const { vs, ws, delivered, expected } = await sampleClients(vendorsClient, watchers, scenario);
			const cpuNs = cpuNsBetween(cpu, cpuNow);
			const lat = latencyStats(ws.flatMap(s => s.latenciesMs));
			const round = {
				sent: vs.sent,
				delivered,
				expected,
				deliveredRatio: delivered / expected,
				cpuMs: cpuNs / 1e6,
				usPerDelivery: cpuNs / 1000 / delivered,
				mainThreadShare: mainThreadShare(server.pid, cpu, cpuNow),
				serverCpuPercent: (cpuNs / 1e6 / vs.wallMs) * 100,
				clientCpuPercent: Math.max(vs.cpuPercent, sumCpu(ws)),
				watcherCpuPercent: ws.map(s => s.cpuPercent),
				latency: lat,
			};
			figures.fanout.push(round);
			log(
				stage,
				`fan-out round ${r + 1}/${MODE.rounds}: ${delivered}/${expected} delivered, ${fmt(round.usPerDelivery, 3)} µs CPU/delivery, server ${fmt(round.serverCpuPercent, 1)}% (${fmt(round.mainThreadShare * 100, 0)}% main thread), clients ≤${fmt(round.clientCpuPercent, 1)}%, latency p50 ${fmt(lat.p50)} p99 ${fmt(lat.p99)} max ${fmt(lat.max)} ms (${lat.n} samples)`
			);
			cpu = cpuNow;
		}
		figures.delivery = await drainDeliveries(vendorsClient, watchers, scenario, figures.fanout);
		log(
			stage,
			`delivered ${figures.delivery.delivered} of ${figures.delivery.expected} expected (${fmt(figures.delivery.ratio * 100, 2)}%) over all rounds`
		);
		await Promise.all(watchers.map(w => w.close()));

		// 5b. REST nearby from a second process (engine only), vendors online.
		if (server.engine) {
			const http = await forkClient("http-load", "bench/clients/http-load.ts");
			clients.push(http);
			figures.rest = [];
			for (let r = 0; r < MODE.rounds; r++) {
				const cpuA = cpuSample(server.pid);
				const res = await http.call<HttpLoadResult>(
					"run",
					{
						baseUrl: server.engine.baseUrl,
						centers: AREAS.map(a => ({ lat: a.lat, lng: a.lng })),
						radius: 2000,
						connections: 16,
						durationS: MODE.restRoundS,
					} satisfies HttpLoadRun,
					60_000
				);
				const cpuNs = cpuNsBetween(cpuA, cpuSample(server.pid));
				figures.rest.push({ ...res, serverCpuPercent: (cpuNs / 1e6 / (MODE.restRoundS * 1000)) * 100 });
				log(
					stage,
					`REST nearby round ${r + 1}/${MODE.rounds}: ${fmt(res.requestsPerSec, 0)} req/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms, non-2xx ${res.non2xx}, errors ${res.errors}, client ${fmt(res.cpuPercent, 1)}%`
				);
				if (res.non2xx > 0 || res.errors > 0) results.notes.push(`REST nearby round ${r + 1}: ${res.non2xx} non-2xx, ${res.errors} errors`);
			}
			await http.close();
		}
		await vendorsClient.call("close", {}, 30_000);
		await vendorsClient.close();
	} finally {
		await Promise.allSettled(clients.map(c => c.close()));
		await server.stop();
	}
}

/** Vendors on node A, watchers of area 0 on node B and of area 1 on node C, over NATS. */
async function clusterStage(scenario: Scenario, out: Results): Promise<void> {
	const stage = "cluster";
	const namespace = `bench-${randomUUID().slice(0, 8)}`;
	const nats = { NATS_URL, NAMESPACE: namespace };
	const [a, b, c] = await Promise.all([
		startEngine("engine-a", { ...nats, NODE_ID: `${namespace}-a` }),
		startEngine("live-b", { ...nats, NODE_ID: `${namespace}-b`, SERVICES: "live" }),
		startEngine("live-c", { ...nats, NODE_ID: `${namespace}-c`, SERVICES: "live" }),
	]);
	const nodes = [a, b, c];
	const clients: ClientProc[] = [];
	try {
		log(stage, `3 nodes up over NATS (namespace ${namespace}): A = all services (vendor sockets), B and C = live only (watchers)`);
		const onboarded = await onboardVendors(a.baseUrl, scenario.vendors.length, `benchc${randomUUID().slice(0, 6)}`, done =>
			log(stage, `onboarded ${done}`)
		);
		const vendorsClient = await forkClient("vendors", "bench/clients/vendors.ts");
		clients.push(vendorsClient);
		const vendors = scenario.vendors.map((v, i) => ({ id: onboarded[i]!.id, token: onboarded[i]!.token, lat: v.lat, lng: v.lng }));
		checkVendorSockets(
			stage,
			await vendorsClient.call<VendorsConnected>("connect", { url: a.liveUrl, vendors, localAddresses: LOCAL_ADDRESSES }, 120_000),
			vendors.length
		);
		await vendorsClient.call("rate", { perVendorHz: MODE.fanoutHz });
		await sleep(args.quick ? 500 : 1000); // every vendor online before the snapshots
		const perArea = scenario.watchSets[0]!.length * scenario.vendorsPerWatcher;
		const wb = await connectWatchers(`${stage}/B`, b.liveUrl, scenario.watchSets[0]!, 1, { expectVendors: perArea });
		clients.push(...wb);
		const wc = await connectWatchers(`${stage}/C`, c.liveUrl, scenario.watchSets[1]!, 1, { expectVendors: perArea });
		clients.push(...wc);
		const watchers = [...wb, ...wc];
		await sleep(MODE.warmMs);
		await sampleClients(vendorsClient, watchers, scenario);
		let cpu = nodes.map(n => cpuSample(n.proc.pid));
		let counters = await Promise.all(nodes.map(liveCounters));
		out.rounds = [];
		for (let r = 0; r < MODE.rounds; r++) {
			await sleep(MODE.windowMs);
			const cpuNow = nodes.map(n => cpuSample(n.proc.pid));
			const { vs, ws, delivered, expected } = await sampleClients(vendorsClient, watchers, scenario);
			const countersNow = await Promise.all(nodes.map(liveCounters));
			const produced = countersNow[0]!.positionsIn - counters[0]!.positionsIn;
			const routed = countersNow.map((cn, i) => cn.routedIn - counters[i]!.routedIn);
			const lat = latencyStats(ws.flatMap(s => s.latenciesMs));
			const round = {
				sent: vs.sent,
				produced,
				delivered,
				expected,
				deliveredRatio: delivered / expected,
				routedIn: { A: routed[0], B: routed[1], C: routed[2] },
				routedShare: { B: routed[1]! / produced, C: routed[2]! / produced },
				serverCpuPercent: Object.fromEntries(nodes.map((n, i) => [n.name, (cpuNsBetween(cpu[i]!, cpuNow[i]!) / 1e6 / vs.wallMs) * 100])),
				clientCpuPercent: Math.max(vs.cpuPercent, sumCpu(ws)),
				latency: lat,
			};
			out.rounds.push(round);
			log(
				stage,
				`round ${r + 1}/${MODE.rounds}: ${delivered}/${expected} delivered on B+C, routed in A ${routed[0]} B ${routed[1]} C ${routed[2]} of ${produced} produced, latency p50 ${fmt(lat.p50)} p99 ${fmt(lat.p99)} max ${fmt(lat.max)} ms, clients ≤${fmt(round.clientCpuPercent, 1)}%`
			);
			cpu = cpuNow;
			counters = countersNow;
		}
		out.delivery = await drainDeliveries(vendorsClient, watchers, scenario, out.rounds);
		log(
			stage,
			`delivered ${out.delivery.delivered} of ${out.delivery.expected} expected (${fmt(out.delivery.ratio * 100, 2)}%) over all rounds`
		);
	} finally {
		await Promise.allSettled(clients.map(cl => cl.close()));
		await Promise.allSettled(nodes.map(n => n.proc.stop(20_000)));
	}
}

async function nearbyStage(out: Results): Promise<void> {
	const client = await forkClient("nearby", "bench/clients/nearby.ts");
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

async function runStage(name: string, fn: () => Promise<void>): Promise<void> {
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
}

// ---------------------------------------------------------------- table

type Row = { figure: string; venta: string; comparison: string; ratio: string; target: string; result: string };

function buildTable(): Row[] {
	const f = results.figures;
	const rows: Row[] = [];
	const med = (list: any[] | undefined, pick: (x: any) => number): Summary => summarize((list ?? []).map(pick));
	const verdict = (ok: boolean | undefined) => (ok === undefined ? "—" : ok ? "met" : "missed");
	const short = (delivery: { ratio: number } | undefined) =>
		delivery && delivery.ratio < SHORTFALL ? ` (SHORT: only ${fmt(delivery.ratio * 100, 1)}%)` : "";
	const live = f.live ?? {};
	const [e, w, u] = [live.engine, live.ws, live.uws];

	// 1. Ingest
	const ingest = med(e?.ingest, r => r.usPerPosition);
	const ingestWs = med(w?.ingest, r => r.usPerPosition);
	const ingestUws = med(u?.ingest, r => r.usPerPosition);
	rows.push({
		figure: "1 Ingest: server CPU per position",
		venta: `${fmtSummary(ingest, " µs")}${short(e?.ingestAccepted)}, ${fmt(med(e?.ingest, r => r.mainThreadShare * 100).median, 0)}% on the main thread`,
		comparison: `ws ${fmtSummary(ingestWs, " µs")}${short(w?.ingestAccepted)}; bare uWS ${fmtSummary(ingestUws, " µs")}${short(u?.ingestAccepted)}`,
		ratio: `${fmt(ingest.median / ingestWs.median)}× ws, ${fmt(ingest.median / ingestUws.median)}× uWS`,
		target: "≤ 20 µs",
		result: verdict(Number.isFinite(ingest.median) ? ingest.median <= 20 : undefined),
	});
	rows.push({
		figure: "1 Ingest: implied positions/s per core",
		venta: fmt(1e6 / ingest.median, 0),
		comparison: `ws ${fmt(1e6 / ingestWs.median, 0)}; bare uWS ${fmt(1e6 / ingestUws.median, 0)}`,
		ratio: `${fmt(ingestWs.median / ingest.median)}× ws`,
		target: "≥ 50 000",
		result: verdict(Number.isFinite(ingest.median) ? 1e6 / ingest.median >= 50_000 : undefined),
	});

	// 2. Fan-out
	const fan = med(e?.fanout, r => r.usPerDelivery);
	const fanWs = med(w?.fanout, r => r.usPerDelivery);
	const fanUws = med(u?.fanout, r => r.usPerDelivery);
	rows.push({
		figure: "2 Fan-out: server CPU per delivered message vs ws",
		venta: fmtSummary(fan, " µs", 3) + short(e?.delivery),
		comparison: `ws baseline ${fmtSummary(fanWs, " µs", 3)}${short(w?.delivery)}`,
		ratio: `${fmt(fan.median / fanWs.median, 3)}`,
		target: "≤ 0.2 (1/5)",
		result: verdict(Number.isFinite(fan.median / fanWs.median) ? fan.median / fanWs.median <= 0.2 : undefined),
	});
	rows.push({
		figure: "2 Fan-out: vs bare uWS ceiling",
		venta: fmtSummary(fan, " µs", 3),
		comparison: `bare uWS ${fmtSummary(fanUws, " µs", 3)}${short(u?.delivery)}`,
		ratio: `${fmt(fan.median / fanUws.median)}`,
		target: "≤ 1.4",
		result: verdict(Number.isFinite(fan.median / fanUws.median) ? fan.median / fanUws.median <= 1.4 : undefined),
	});
	// 3. Latency
	const p = (list: any[] | undefined, k: "p50" | "p99" | "max") => med(list, r => r.latency[k]);
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
		figure: "3 Latency across two nodes over NATS",
		venta: cl ? latCell(cl) + short(f.cluster?.delivery) : "n/a",
		comparison: `one node p99 ${fmt(p(e?.fanout, "p99").median)} ms`,
		ratio: `${fmt(p(cl, "p99").median / p(e?.fanout, "p99").median)}× one node`,
		target: "p99 ≤ 40 ms",
		result: verdict(cl?.length ? p(cl, "p99").median <= 40 : undefined),
	});

	// 4. Idle memory
	const idle = (x: any) => med(x?.idle, r => r.bytesPerSocket / 1024);
	const n = e?.idleTotal?.sockets ?? w?.idleTotal?.sockets;
	rows.push({
		figure: `4 RSS per idle watcher socket (N = ${n ?? "?"})`,
		venta: fmtSummary(idle(e), " KB"),
		comparison: `ws ${fmtSummary(idle(w), " KB")}; bare uWS ${fmtSummary(idle(u), " KB")}`,
		ratio: `${fmt(idle(e).median / idle(w).median)}× ws`,
		target: "≤ 6 KB",
		result: verdict(e?.idle?.length ? idle(e).median <= 6 : undefined),
	});

	// 5. nearby
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
	const rest = e?.rest;
	if (rest?.length) {
		const rps = med(rest, r => r.requestsPerSec);
		rows.push({
			figure: `5 REST GET /api/discovery/nearby (${MODE.vendors} online)`,
			venta: `${fmtSummary(rps, " req/s", 0)}, p99 ${fmt(med(rest, r => r.p99Ms).median, 1)} ms`,
			comparison: `server CPU ${fmt(med(rest, r => r.serverCpuPercent).median, 0)}%, client ${fmt(med(rest, r => r.cpuPercent).median, 0)}%`,
			ratio: "—",
			target: "—",
			result: "—",
		});
	}

	// 6. Routing
	if (cl?.length) {
		const share = summarize(cl.flatMap((r: any) => [r.routedShare.B, r.routedShare.C]));
		rows.push({
			figure: "6 Updates received per watcher node (2 disjoint areas)",
			venta: `${fmtSummary({ ...share, median: share.median * 100, min: share.min * 100, max: share.max * 100 }, "%", 1)} of all updates`,
			comparison: "broadcast: 100% to every node",
			ratio: fmt(share.median),
			target: "< 100% (own areas only)",
			result: verdict(share.max < 0.75),
		});
	}
	return rows;
}

function printTable(rows: Row[]): void {
	const cols: (keyof Row)[] = ["figure", "venta", "comparison", "ratio", "target", "result"];
	const head: Row = { figure: "Figure", venta: "Venta", comparison: "Comparison", ratio: "Ratio", target: "Target", result: "Result" };
	const widths = cols.map(c => Math.max(head[c].length, ...rows.map(r => r[c].length)));
	const line = (r: Row) => `| ${cols.map((c, i) => r[c].padEnd(widths[i]!)).join(" | ")} |`;
	process.stdout.write(`\n${line(head)}\n|${widths.map(w => "-".repeat(w + 2)).join("|")}|\n${rows.map(line).join("\n")}\n\n`);
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
	rounds: MODE.rounds,
	windowMs: MODE.windowMs,
};
log(
	"bench",
	`${MODE.name} mode on ${results.machine.cores} × ${results.machine.cpuModel}, Node ${results.machine.node}; ${results.load.fanout}`
);
if (args.profile) mkdirSync("bench/profiles", { recursive: true });

try {
	if (stages.has("live")) {
		results.figures.live = {};
		const wanted = new Set(args.competitors.split(",").map(c => c.trim()));
		for (const key of (["engine", "ws", "uws"] as const).filter(k => wanted.has(k)))
			await runStage(`live/${key}`, () => liveStage(key, scenario, results.figures.live));
	}
	if (stages.has("cluster")) {
		results.figures.cluster = {};
		await runStage("cluster", () => clusterStage(scenario, results.figures.cluster));
	}
	if (stages.has("nearby")) {
		results.figures.nearby = {};
		await runStage("nearby", () => nearbyStage(results.figures.nearby));
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
