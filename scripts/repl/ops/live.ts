import type { ServiceBroker } from "moleculer";
import type { LiveStats, SocketView, StatsParams } from "../../../gateways/live/contract.ts";
import { CALL, OpsError } from "./common.ts";

/** Live gateway nodes: their sockets and counters, as each node reports them. */

export type LiveSample = { node: string; at: number; stats: LiveStats | null; error?: string };

/** Nodes that run the live gateway now, sorted. */
export function liveNodes(broker: ServiceBroker): string[] {
	const services = broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true }) as { name: string; nodeID: string }[];
	return [...new Set(services.filter(s => s.name === "live").map(s => s.nodeID))].sort();
}

/** Asks every live node for its own stats; `at` is the midpoint of the round trip. */
export async function sampleLive(broker: ServiceBroker, params: { sockets?: boolean; cells?: boolean } = {}): Promise<LiveSample[]> {
	return Promise.all(
		liveNodes(broker).map(async node => {
			const sent = Date.now();
			try {
				const stats = await broker.call<LiveStats, StatsParams>("live.stats", params, { ...CALL, nodeID: node });
				return { node, at: (sent + Date.now()) / 2, stats };
			} catch (err) {
				return { node, at: Date.now(), stats: null, error: (err as Error).message };
			}
		})
	);
}

export type SocketsRow = {
	node: string;
	sockets: number;
	watchers: number;
	vendors: number;
	watchedCells: number;
	/** Watchers behind on their frames (fed latest-wins until they catch up). */
	slow: number;
	inPerS: number;
	deliveriesPerS: number;
	droppedPerS: number;
	routedInPerS: number;
	/** Counter totals since the node started. */
	positionsIn: number;
	deliveries: number;
	dropped: number;
	routedIn: number;
	/** What each rate was computed from: counter deltas over `windowS`. */
	delta: { positionsIn: number; deliveries: number; dropped: number; routedIn: number };
	windowS: number;
	error?: string;
};

const perSecond = (delta: number, seconds: number) => (seconds > 0 ? Math.round((delta / seconds) * 10) / 10 : 0);

/** Rates per node from two samples of the nodes' own counters. */
export function liveRates(before: LiveSample[], after: LiveSample[]): SocketsRow[] {
	const earlier = new Map(before.map(s => [s.node, s]));
	return after.map(next => {
		const prev = earlier.get(next.node);
		const s = next.stats;
		const c = s?.counters ?? { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0 };
		const p = prev?.stats?.counters ?? c;
		const windowS = prev?.stats ? Math.max(0, (next.at - prev.at) / 1000) : 0;
		const delta = {
			positionsIn: c.positionsIn - p.positionsIn,
			deliveries: c.deliveries - p.deliveries,
			dropped: c.positionsDropped - p.positionsDropped,
			routedIn: c.routedIn - p.routedIn,
		};
		return {
			node: next.node,
			sockets: s?.sockets ?? 0,
			watchers: s?.watchers ?? 0,
			vendors: s?.vendors ?? 0,
			watchedCells: s?.watchedCells ?? 0,
			slow: s?.slowSockets ?? 0,
			inPerS: perSecond(delta.positionsIn, windowS),
			deliveriesPerS: perSecond(delta.deliveries, windowS),
			droppedPerS: perSecond(delta.dropped, windowS),
			routedInPerS: perSecond(delta.routedIn, windowS),
			positionsIn: c.positionsIn,
			deliveries: c.deliveries,
			dropped: c.positionsDropped,
			routedIn: c.routedIn,
			delta,
			windowS: Math.round(windowS * 100) / 100,
			...(next.error ? { error: next.error } : {}),
		};
	});
}

/** `sockets`: every live node's sockets and watch sets, and rates over `windowMs`. */
export async function socketsReport(broker: ServiceBroker, { windowMs = 1_000 } = {}): Promise<SocketsRow[]> {
	const before = await sampleLive(broker);
	await new Promise(r => setTimeout(r, windowMs));
	return liveRates(before, await sampleLive(broker));
}

/** `sockets --node`: one live node's sockets and the size of each one's watch set. */
export async function socketList(broker: ServiceBroker, node: string): Promise<SocketView[]> {
	if (!liveNodes(broker).includes(node))
		throw new OpsError(`"${node}" is not a live gateway node (live nodes: ${liveNodes(broker).join(", ") || "none"})`);
	const stats = await broker.call<LiveStats, StatsParams>("live.stats", { sockets: true }, { ...CALL, nodeID: node });
	return (stats.watchSets ?? []).sort((a, b) => a.connId - b.connId);
}
