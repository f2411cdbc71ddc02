import type { ServiceBroker } from "moleculer";
import { LIVE_METRICS } from "./contract.ts";
import type { NodeDemand } from "./demand/node.ts";
import type { LiveHub } from "./hub.ts";

type HubStats = ReturnType<LiveHub["stats"]> & { demand: ReturnType<NodeDemand["stats"]> };
/** What a metric reads from the hub's stats. */
type Reading = (stats: HubStats) => number;

const GAUGE_METRICS: [string, Reading, string][] = [
	[LIVE_METRICS.sockets, s => s.sockets, "Open live sockets on this node"],
	[LIVE_METRICS.watchers, s => s.watchers, "Sockets on this node watching at least one cell"],
	[LIVE_METRICS.vendors, s => s.vendors, "Vendor sockets on this node"],
	[LIVE_METRICS.slowSockets, s => s.slowSockets, "Watchers on this node that are behind (fed latest-wins until they catch up)"],
	[LIVE_METRICS.watchedCells, s => s.watchedCells, "H3 cells watched by sockets on this node"],
];

const COUNTER_METRICS: [string, Reading, string][] = [
	[
		LIVE_METRICS.positionsIn,
		s => s.counters.positionsIn,
		"Positions from vendor sockets on this node, accepted and streamed (the store write follows)",
	],
	[
		LIVE_METRICS.positionsDropped,
		s => s.counters.positionsDropped,
		"Positions from vendor sockets dropped (invalid, rate limited or stale)",
	],
	[LIVE_METRICS.routedIn, s => s.counters.routedIn, "Updates this node received from other nodes"],
	[LIVE_METRICS.deliveries, s => s.counters.deliveries, "Messages sent to watchers"],
	[LIVE_METRICS.backpressureDrops, s => s.backpressureDrops, "Frames refused for watchers over the backpressure limit"],
	[LIVE_METRICS.slowConsumersClosed, s => s.slowConsumersClosed, "Watchers closed as slow consumers (4009)"],
	[LIVE_METRICS.alertsSent, s => s.alertsSent, "Alert frames sent to users' sockets on this node"],
	[LIVE_METRICS.demandPublished, s => s.demand.published, "Watcher counts of an area this node published to other live nodes"],
	[LIVE_METRICS.demandReceived, s => s.demand.received, "Watcher counts of an area this node received from other live nodes"],
	[LIVE_METRICS.interestSent, s => s.demand.interestSent, "Interest frames sent to vendor sockets on this node"],
];

/**
 * The `venta_live_*` metrics of one node, labelled `node`. The hub counts in plain numbers on the
 * hot path; `sync` adds what changed to Moleculer's registry (each second and before a scrape).
 */
export class LiveMetrics {
	readonly #broker: ServiceBroker;
	readonly #labels: { node: string };
	/** Counter values already added to the registry, by metric name. */
	readonly #reported = new Map<string, number>(COUNTER_METRICS.map(([name]) => [name, 0]));

	constructor(broker: ServiceBroker) {
		this.#broker = broker;
		this.#labels = { node: broker.nodeID };
		const metrics = broker.metrics;
		for (const [name, , description] of GAUGE_METRICS) metrics.register({ type: "gauge", name, labelNames: ["node"], description });
		for (const [name, , description] of COUNTER_METRICS) metrics.register({ type: "counter", name, labelNames: ["node"], description });
	}

	/** Counters appear at 0 from the start (a node that routed nothing says so). */
	start(hub: LiveHub, demand: NodeDemand): void {
		for (const [name] of COUNTER_METRICS) this.#broker.metrics.increment(name, this.#labels, 0);
		this.sync(hub, demand);
	}

	sync(hub: LiveHub, demand: NodeDemand): void {
		const stats = { ...hub.stats(), demand: demand.stats() };
		for (const [name, read] of GAUGE_METRICS) this.#broker.metrics.set(name, read(stats), this.#labels);
		for (const [name, read] of COUNTER_METRICS) {
			const value = read(stats);
			const delta = value - this.#reported.get(name)!;
			if (delta > 0) this.#broker.metrics.increment(name, this.#labels, delta);
			this.#reported.set(name, value);
		}
	}
}
