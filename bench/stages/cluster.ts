/**
 * Scale-out routing (issue 18, `--only cluster`): a three-server NATS cluster of the stage's own
 * (routes on loopback, monitoring ports), one services node (api, users, vendors, discovery, geo,
 * alerts on their embedded stores), one vendor-ingest live node holding every vendor socket and
 * watching nothing, and six live-only watcher nodes, node i on NATS server i mod 3 with watchers
 * over area i only (1 to 6 routing cells; 3 more routing cells with vendors nobody watches). Each
 * node should receive exactly the positions of its own routing cells: its share of all routed
 * positions is its share of the routing cells (bench/lib/cluster-scenario.ts), each watcher
 * receives every position of its cells, and NATS /varz gives the cluster's traffic.
 */
import { randomUUID } from "node:crypto";
import { startOwnNatsCluster, type OwnNatsCluster } from "../../test/helpers/servers.ts";
import type { VendorsSample } from "../clients/vendors.ts";
import type { WatchersSample } from "../clients/watchers.ts";
import { checkRouting, deliveryTotal } from "../lib/checks.ts";
import { buildClusterScenario, ClusterTotals, type ClusterSample, type ClusterScenario } from "../lib/cluster-scenario.ts";
import type { BenchContext } from "../lib/context.ts";
import { liveCounters, onboardVendors, sleep, startEngine, type EngineNode } from "../lib/engine.ts";
import type { ClientProc } from "../lib/ipc.ts";
import { bringOnline, connectVendors, connectWatchers, forkClient, maxCpu } from "../lib/load.ts";
import { connection, trafficBetween, varz } from "../lib/nats-monitor.ts";
import { cpuNsBetween, cpuSample } from "../lib/proc.ts";
import { fmt, latencyStats, linearFit, summarize } from "../lib/stats.ts";
import { logClusterFigures, type ClusterFigures, type ClusterLoad, type ClusterNodeFigures, type ClusterRound } from "./cluster-rows.ts";

export const CLUSTER_LOAD: Record<"quick" | "full", ClusterLoad> = {
	quick: { vendorsPerCell: 2, hz: 4, watchersPerRoutingCell: 4 },
	full: { vendorsPerCell: 4, hz: 10, watchersPerRoutingCell: 10 },
};
export const ROUTING_CELLS_PER_NODE = [1, 2, 3, 4, 5, 6];
const UNWATCHED_ROUTING_CELLS = 3;
const CELLS_PER_ROUTING_CELL = 5;
const NATS_SERVERS = 3;
const SERVICES_ROLES = "api,users,vendors,discovery,geo,alerts";
const ROUTING_CELLS = ROUTING_CELLS_PER_NODE.reduce((a, n) => a + n, UNWATCHED_ROUTING_CELLS);

export const describeClusterLoad = (load: ClusterLoad): string =>
	`${load.vendorsPerCell * CELLS_PER_ROUTING_CELL * ROUTING_CELLS} vendors × ${load.hz} Hz on one ingest node over ${ROUTING_CELLS} routing cells, ${load.watchersPerRoutingCell} watchers per routing cell on ${ROUTING_CELLS_PER_NODE.length} live nodes watching ${ROUTING_CELLS_PER_NODE.join(", ")} routing cells, ${NATS_SERVERS} NATS servers`;

/** Long enough for every position in flight to arrive (the vendors paused). */
const QUIET_MS = 500;
/** Eight engines start at once on two cores: more than one engine's 30 s. */
const START_TIMEOUT_MS = 90_000;

const median = (values: number[]) => summarize(values).median;
const secondsOf = (rounds: ClusterRound[]) => rounds.reduce((a, r) => a + r.wallMs, 0) / 1000;

type Topology = { nats: OwnNatsCluster; namespace: string; services: EngineNode; ingest: EngineNode; watchers: EngineNode[] };
const nodeName = (i: number) => `live-${i + 1}`;
/** The name of a live node's routing connection to NATS (gateways/live/live.service.ts). */
const routerName = (t: Topology, node: EngineNode) => `live-${t.namespace}-${node.name}`;

/** The NATS cluster, then the services node, then the seven live nodes at once; on a failure, whatever started is stopped. */
async function startTopology(ctx: BenchContext, stage: string): Promise<Topology> {
	const nats = await startOwnNatsCluster(NATS_SERVERS);
	const namespace = `bench-${randomUUID().slice(0, 8)}`;
	const started: EngineNode[] = [];
	const start = async (name: string, server: number, services: string) => {
		const env = { NATS_URL: nats.servers[server]!.url, NAMESPACE: namespace, NODE_ID: `${namespace}-${name}`, SERVICES: services };
		const node = await startEngine(name, env, ctx.profile ? ["--cpu-prof", "--cpu-prof-dir=bench/profiles"] : [], START_TIMEOUT_MS);
		started.push(node);
		return node;
	};
	try {
		const services = await start("services", 0, SERVICES_ROLES);
		const [ingest, ...watchers] = await Promise.all([
			start("ingest", 1, "live"),
			...ROUTING_CELLS_PER_NODE.map((_, i) => start(nodeName(i), i % NATS_SERVERS, "live")),
		]);
		ctx.log(stage, `3 NATS servers, services node, ingest node and ${watchers.length} watcher nodes up (namespace ${namespace})`);
		return { nats, namespace, services, ingest: ingest!, watchers };
	} catch (err) {
		await Promise.allSettled(started.map(n => n.proc.stop(20_000)));
		await Promise.allSettled(nats.servers.map(s => s.stop()));
		throw err;
	}
}

async function stopTopology(t: Topology): Promise<void> {
	await Promise.allSettled([t.services, t.ingest, ...t.watchers].map(n => n.proc.stop(20_000)));
	await Promise.allSettled(t.nats.servers.map(s => s.stop()));
}

/** Vendors onboarded on the services node, connected to the ingest node, each counted under its routing cell. */
async function openVendors(ctx: BenchContext, stage: string, t: Topology, scenario: ClusterScenario, hz: number): Promise<ClientProc> {
	const identities = await onboardVendors(t.services.baseUrl, scenario.vendors.length, `benchn${randomUUID().slice(0, 6)}`, done =>
		ctx.log(stage, `onboarded ${done}`)
	);
	const client = forkClient("cluster-vendors", "bench/clients/vendors.ts");
	try {
		const vendors = scenario.vendors.map((v, i) => ({ ...identities[i]!, lat: v.lat, lng: v.lng, group: v.routingCell }));
		await connectVendors(ctx, stage, client, t.ingest.liveUrl, vendors);
		await bringOnline(client, hz);
	} catch (err) {
		await client.close();
		throw err;
	}
	return client;
}

/** One watchers client per watcher node; every snapshot must hold its cells' vendors. */
async function openWatchers(
	ctx: BenchContext,
	stage: string,
	t: Topology,
	scenario: ClusterScenario,
	perCell: number
): Promise<ClientProc[]> {
	const clients: ClientProc[] = [];
	for (const [i, node] of t.watchers.entries()) {
		const watches = scenario.watches[i]!;
		const expectVendors = watches.length * CELLS_PER_ROUTING_CELL * perCell;
		clients.push(
			...(await connectWatchers(
				ctx,
				`${stage}/${node.name}`,
				node.liveUrl,
				watches.map(w => ({ cells: w.cells })),
				1,
				{ expectVendors }
			))
		);
	}
	return clients;
}

/** CPU of every engine (services, ingest, watchers), then the clients' and the live nodes' counters at once. */
async function sampleAll(t: Topology, vendors: ClientProc, watchers: ClientProc[]): Promise<ClusterSample> {
	const engines = [t.services, t.ingest, ...t.watchers];
	const cpu = engines.map(n => cpuSample(n.proc.pid));
	const [vs, ws, counters] = await Promise.all([
		vendors.call<VendorsSample>("sample"),
		Promise.all(watchers.map(w => w.call<WatchersSample>("sample", { perSocket: true }))),
		Promise.all([t.ingest, ...t.watchers].map(liveCounters)),
	]);
	return { cpu, vendors: vs, watchers: ws, counters };
}

function roundOf(t: Topology, prev: ClusterSample, next: ClusterSample, span: ReturnType<ClusterTotals["add"]>): ClusterRound {
	const wallMs = next.vendors.wallMs;
	const engines = [t.services, t.ingest, ...t.watchers];
	return {
		published: span.published,
		dropped: next.counters[0]!.positionsDropped - prev.counters[0]!.positionsDropped,
		vendorErrors: next.vendors.errors,
		routedIn: span.routedIn,
		share: span.routedIn.map(r => r / span.published),
		ingestRoutedIn: span.ingestRoutedIn,
		delivered: span.delivered,
		expected: span.expected,
		wallMs,
		cpuPercent: Object.fromEntries(engines.map((n, i) => [n.name, (cpuNsBetween(prev.cpu[i]!, next.cpu[i]!) / 1e6 / wallMs) * 100])),
		clientCpuPercent: Math.max(next.vendors.cpuPercent, maxCpu(next.watchers)),
		latency: latencyStats(next.watchers.flatMap(s => s.latenciesMs)),
	};
}

const errorsNote = (errors: Record<string, number>) => (Object.keys(errors).length ? `, vendors got errors ${JSON.stringify(errors)}` : "");

/**
 * `ctx.rounds` rounds of `ctx.windowMs` after `ctx.warmMs`, then what was in flight is counted. The
 * vendors pause around the first and the last sample, so the totals hold no position sent on one
 * side of a sample and received on the other (the rounds in between may, by a few).
 */
async function measure(
	ctx: BenchContext,
	stage: string,
	t: Topology,
	clients: { vendors: ClientProc; watchers: ClientProc[] },
	hz: number,
	totals: ClusterTotals
) {
	const { vendors, watchers } = clients;
	await sleep(ctx.warmMs);
	await vendors.call("rate", { perVendorHz: 0 });
	await sleep(QUIET_MS);
	let prev = await sampleAll(t, vendors, watchers);
	const varzBefore = await Promise.all(t.nats.monitorUrls.map(varz));
	const routingBefore = await connection(t.nats.monitorUrls, routerName(t, t.ingest));
	await vendors.call("rate", { perVendorHz: hz });
	const rounds: ClusterRound[] = [];
	for (let r = 0; r < ctx.rounds; r++) {
		await sleep(ctx.windowMs);
		const next = await sampleAll(t, vendors, watchers);
		const round = roundOf(t, prev, next, totals.add(prev, next));
		rounds.push(round);
		const lat = round.latency;
		ctx.log(
			stage,
			`round ${r + 1}/${ctx.rounds}: ${round.published} published (${round.dropped} dropped${errorsNote(round.vendorErrors)}), routed in ${round.routedIn.join(" / ")} (shares ${round.share.map(s => fmt(s * 100, 1)).join(" / ")}%), ingest node ${round.ingestRoutedIn}; ${round.delivered}/${round.expected} delivered, latency p50 ${fmt(lat.p50)} p99 ${fmt(lat.p99)} ms, clients ≤${fmt(round.clientCpuPercent, 0)}%`
		);
		prev = next;
	}
	const { servers, total } = trafficBetween(varzBefore, await Promise.all(t.nats.monitorUrls.map(varz)));
	const routingAfter = await connection(t.nats.monitorUrls, routerName(t, t.ingest));
	const published = routingAfter.inMsgs - routingBefore.inMsgs;
	const routing = {
		publishedPerSec: published / secondsOf(rounds),
		bytesPerMessage: (routingAfter.inBytes - routingBefore.inBytes) / published,
	};
	const nats = { servers, total, routing };
	await vendors.call("rate", { perVendorHz: 0 });
	await sleep(QUIET_MS);
	totals.add(prev, await sampleAll(t, vendors, watchers));
	return { rounds, nats };
}

/** Per watcher node over the rounds: routed-in rate, CPU, and its routing subjects as its NATS server lists them. */
async function nodeFigures(t: Topology, scenario: ClusterScenario, rounds: ClusterRound[]): Promise<ClusterNodeFigures[]> {
	const seconds = secondsOf(rounds);
	return Promise.all(
		t.watchers.map(async (node, i) => {
			const routedPerSec = rounds.reduce((a, r) => a + r.routedIn[i]!, 0) / seconds;
			const cpuPercent = median(rounds.map(r => r.cpuPercent[node.name]!));
			const { subjects } = await connection(t.nats.monitorUrls, routerName(t, node));
			return {
				name: node.name,
				natsServer: i % NATS_SERVERS,
				watchers: scenario.watches[i]!.length,
				watchedCells: scenario.watchedCells[i]!,
				routingCells: new Set(scenario.watches[i]!.map(w => w.routingCell)).size,
				routingSubjects: subjects.filter(s => s.startsWith(`${t.namespace}.live.`)).length,
				routedInPerSec: routedPerSec,
				cpuPercent,
				usPerRoutedIn: ((cpuPercent / 100) * 1e6) / routedPerSec,
			};
		})
	);
}

/** CPU of a node over the rounds (median %) and per position published. */
function perPosition(rounds: ClusterRound[], name: string) {
	const cpuPercent = median(rounds.map(r => r.cpuPercent[name]!));
	const publishedPerSec = rounds.reduce((a, r) => a + r.published, 0) / secondsOf(rounds);
	return { cpuPercent, usPerPosition: ((cpuPercent / 100) * 1e6) / publishedPerSec };
}

export async function clusterStage(ctx: BenchContext, out: ClusterFigures, load: ClusterLoad): Promise<void> {
	const stage = "cluster";
	const scenario = buildClusterScenario({
		routingCellsPerNode: ROUTING_CELLS_PER_NODE,
		unwatchedRoutingCells: UNWATCHED_ROUTING_CELLS,
		cellsPerRoutingCell: CELLS_PER_ROUTING_CELL,
		...load,
	});
	const vendorCount = scenario.vendors.length;
	out.load = { ...load, vendors: vendorCount, watchers: scenario.watches.flat().length, publishedPerSec: vendorCount * load.hz };
	const t = await startTopology(ctx, stage);
	const clients: ClientProc[] = [];
	try {
		const vendors = await openVendors(ctx, stage, t, scenario, load.hz);
		clients.push(vendors);
		ctx.log(stage, `${vendorCount} vendors × ${load.hz} Hz on the ingest node = ${vendorCount * load.hz} positions/s`);
		const watchers = await openWatchers(ctx, stage, t, scenario, load.vendorsPerCell);
		clients.push(...watchers);
		const totals = new ClusterTotals(scenario);
		const { rounds, nats } = await measure(ctx, stage, t, { vendors, watchers }, load.hz, totals);
		Object.assign(out, { rounds, nats, ingest: perPosition(rounds, t.ingest.name), services: perPosition(rounds, t.services.name) });
		out.nodes = await nodeFigures(t, scenario, rounds);
		// CPU % against updates/s over the six nodes: the slope is the cost of one more update (with its deliveries), the intercept a node's idle CPU.
		const fit = linearFit(
			out.nodes.map(n => n.routedInPerSec),
			out.nodes.map(n => n.cpuPercent)
		);
		out.watcherCpu = { usPerRoutedIn: fit.slope * 1e4, idleCpuPercent: fit.intercept };
		out.routing = checkRouting(
			scenario.watches.map((_, i) => ({
				watchedShare: scenario.watchedShare[i]!,
				produced: totals.produced(i),
				routedIn: totals.routedIn[i]!,
				watchers: totals.watchers[i]!,
			})),
			totals.published
		);
		out.delivery = deliveryTotal(totals.watchers.flat());
		logClusterFigures(ctx, stage, out);
		if (!out.routing.complete) ctx.note(`${stage}: a node received other than its own routing cells' positions, or a watcher fell short`);
		await vendors.call("close", {}, 30_000);
	} finally {
		await Promise.allSettled(clients.map(c => c.close()));
		await stopTopology(t);
	}
}
