/** The cluster stage's figures (bench/stages/cluster.ts), its log lines and its rows of the table (figure 6 for N nodes). */
import type { DeliveryTotal, RoutingCheck } from "../lib/checks.ts";
import type { BenchContext } from "../lib/context.ts";
import type { ServerTraffic } from "../lib/nats-monitor.ts";
import { fmt, fmtSummary, type latencyStats, summarize } from "../lib/stats.ts";
import { shortMark, verdict, type Row } from "../lib/table.ts";

/** Each node's routed-in share within this much (relative) of its watched share. */
export const SHARE_TOLERANCE = 0.05;

/** Offered load: vendors per fine cell (5 fine cells per routing cell), their rate, watchers per routing cell. */
export type ClusterLoad = { vendorsPerCell: number; hz: number; watchersPerRoutingCell: number };

export type ClusterRound = {
	/** Positions the ingest node streamed, each published once to its routing subject. */
	published: number;
	/** Positions the ingest node dropped (invalid, rate limited, stale), and the error frames vendors got. */
	dropped: number;
	vendorErrors: Record<string, number>;
	routedIn: number[];
	share: number[];
	/** Updates the ingest node received (it watches nothing: 0). */
	ingestRoutedIn: number;
	delivered: number;
	expected: number;
	wallMs: number;
	cpuPercent: Record<string, number>;
	clientCpuPercent: number;
	latency: ReturnType<typeof latencyStats>;
};
export type ClusterNodeFigures = {
	name: string;
	natsServer: number;
	watchers: number;
	watchedCells: number;
	routingCells: number;
	/** Routing subjects its NATS server lists for the node's routing connection. */
	routingSubjects: number;
	routedInPerSec: number;
	cpuPercent: number;
	usPerRoutedIn: number;
};
export type ClusterFigures = {
	load?: ClusterLoad & { vendors: number; watchers: number; publishedPerSec: number };
	rounds?: ClusterRound[];
	nodes?: ClusterNodeFigures[];
	ingest?: { cpuPercent: number; usPerPosition: number };
	services?: { cpuPercent: number; usPerPosition: number };
	routing?: RoutingCheck;
	/** Least squares over the watcher nodes: CPU per routed-in update (its deliveries included) and CPU at no traffic. */
	watcherCpu?: { usPerRoutedIn: number; idleCpuPercent: number };
	delivery?: DeliveryTotal;
	nats?: {
		servers: ServerTraffic[];
		total: ServerTraffic;
		/** The ingest node's routing connection as NATS counts it: messages published per second and their size. */
		routing: { publishedPerSec: number; bytesPerMessage: number };
	};
};

export function logClusterFigures(ctx: BenchContext, stage: string, out: ClusterFigures): void {
	const { nodes = [], routing, nats, delivery } = out;
	nodes.forEach((n, i) => {
		const r = routing?.nodes[i];
		ctx.log(
			stage,
			`${n.name} (NATS server ${n.natsServer}): ${n.watchers} watchers, ${n.watchedCells} cells, ${n.routingSubjects} routing subjects; routed in ${fmt(n.routedInPerSec, 0)}/s = ${fmt((r?.share ?? NaN) * 100, 2)}% (watched ${fmt((r?.watchedShare ?? NaN) * 100, 2)}%, ${fmt((r?.deviation ?? NaN) * 100, 2)}%), ${fmt((r?.routedRatio ?? NaN) * 100, 2)}% of its cells' positions; CPU ${fmt(n.cpuPercent, 1)}% = ${fmt(n.usPerRoutedIn, 0)} µs per routed-in update`
		);
	});
	if (nats)
		ctx.log(
			stage,
			`NATS (3 servers): in ${fmt(nats.total.inMsgsPerSec, 0)} msgs/s ${fmt(nats.total.inBytesPerSec / 1024, 0)} KB/s, out ${fmt(nats.total.outMsgsPerSec, 0)} msgs/s ${fmt(nats.total.outBytesPerSec / 1024, 0)} KB/s, CPU ${nats.servers.map(s => fmt(s.cpuPercent, 1)).join(" / ")}%; routing: ${fmt(nats.routing.publishedPerSec, 0)} publishes/s of ${fmt(nats.routing.bytesPerMessage, 0)} B`
		);
	if (out.watcherCpu)
		ctx.log(
			stage,
			`watcher nodes: ${fmt(out.watcherCpu.usPerRoutedIn, 1)} µs CPU per routed-in update (slope), ${fmt(out.watcherCpu.idleCpuPercent, 2)}% idle (intercept)`
		);
	if (routing && delivery)
		ctx.log(
			stage,
			`routing ${routing.complete ? "complete" : "INCOMPLETE"}: max deviation ${fmt(routing.maxDeviation * 100, 2)}%, r = ${fmt(routing.correlation, 4)}; delivered ${delivery.delivered} of ${delivery.expected} (${fmt(delivery.ratio * 100, 2)}%)`
		);
}

const pct = (v: number | undefined, digits = 1) => `${fmt((v ?? NaN) * 100, digits)}%`;

/** Figure 6 for N nodes: the summary row, one row per watcher node, the ingest and services nodes with NATS. */
export function clusterRows(f: ClusterFigures | undefined): Row[] {
	const { rounds, nodes, routing, nats, load } = f ?? {};
	if (!rounds?.length || !nodes || !routing || !load) return [];
	const rows: Row[] = [
		{
			figure: `6 Routed-in ∝ watched routing cells (${nodes.length} live nodes, 3 NATS servers)`,
			venta: `max deviation ${pct(routing.maxDeviation, 2)}, r = ${fmt(routing.correlation, 4)}${shortMark(f?.delivery)}${routing.complete ? "" : " (INCOMPLETE)"}`,
			comparison: "broadcast: 100% to every node",
			ratio: `${pct(Math.max(...routing.nodes.map(n => n.share)))} at most`,
			target: `each node within ±${SHARE_TOLERANCE * 100}% of its watched share, only its own cells`,
			result: verdict(routing.maxDeviation <= SHARE_TOLERANCE && routing.complete),
		},
	];
	nodes.forEach((n, i) => {
		const r = routing.nodes[i]!;
		const share = summarize(rounds.map(round => round.share[i]! * 100));
		rows.push({
			figure: `6 ${n.name}: ${n.routingCells} routing cells, ${n.watchedCells} cells, ${n.watchers} watchers`,
			venta: `${fmt(n.routedInPerSec, 0)}/s routed in = ${pct(r.share, 2)} (rounds ${fmtSummary(share, "%", 1)}); ${n.routingSubjects} subjects`,
			comparison: `watched share ${pct(r.watchedShare, 2)}; CPU ${fmt(n.cpuPercent, 1)}%, ${fmt(n.usPerRoutedIn, 0)} µs per update`,
			ratio: fmt(r.share / r.watchedShare, 3),
			target: `±${SHARE_TOLERANCE * 100}%`,
			result: verdict(Math.abs(r.deviation) <= SHARE_TOLERANCE && r.shortWatchers === 0 && r.overWatchers === 0),
		});
	});
	if (f?.watcherCpu)
		rows.push({
			figure: `6 Watcher nodes: CPU per routed-in update (slope over ${nodes.length} nodes, ${load.watchersPerRoutingCell} deliveries each)`,
			venta: `${fmt(f.watcherCpu.usPerRoutedIn, 1)} µs per update`,
			comparison: `idle CPU (intercept) ${fmt(f.watcherCpu.idleCpuPercent, 2)}% per node`,
			ratio: "—",
			target: "—",
			result: "—",
		});
	if (f?.ingest && f.services && nats)
		rows.push({
			figure: `6 Ingest node (${load.vendors} vendors × ${load.hz} Hz) and services node`,
			venta: `ingest ${fmt(f.ingest.usPerPosition, 1)} µs/position (${fmt(f.ingest.cpuPercent, 1)}%), services ${fmt(f.services.usPerPosition, 1)} µs (${fmt(f.services.cpuPercent, 1)}%)`,
			comparison: `NATS in ${fmt(nats.total.inMsgsPerSec, 0)} msgs/s (${fmt(nats.total.inBytesPerSec / 1024, 0)} KB/s), out ${fmt(nats.total.outMsgsPerSec, 0)} msgs/s; ${fmt(nats.routing.publishedPerSec, 0)} routing publishes/s of ${fmt(nats.routing.bytesPerMessage, 0)} B`,
			ratio: "—",
			target: "—",
			result: "—",
		});
	return rows;
}
