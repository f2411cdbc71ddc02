import type { ServiceBroker } from "moleculer";
import { LIVE_METRICS } from "./contract.ts";
import type { LiveCounters, LiveHub } from "./hub.ts";

const COUNTER_METRICS: [keyof LiveCounters, string, string][] = [
	["positionsIn", LIVE_METRICS.positionsIn, "Positions from vendor sockets on this node, accepted and streamed (the store write follows)"],
	["positionsDropped", LIVE_METRICS.positionsDropped, "Positions from vendor sockets dropped (invalid, rate limited or stale)"],
	["routedIn", LIVE_METRICS.routedIn, "Updates this node received from other nodes"],
	["deliveries", LIVE_METRICS.deliveries, "Messages sent to watchers"],
];

/**
 * The `venta_live_*` metrics of one node, labelled `node`. The hub counts in plain numbers on the
 * hot path; `sync` adds what changed to Moleculer's registry (each second and before a scrape).
 */
export class LiveMetrics {
	readonly #broker: ServiceBroker;
	readonly #labels: { node: string };
	/** Counter values already added to the registry. */
	readonly #reported: LiveCounters = { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0 };

	constructor(broker: ServiceBroker) {
		this.#broker = broker;
		this.#labels = { node: broker.nodeID };
		const metrics = broker.metrics;
		metrics.register({ type: "gauge", name: LIVE_METRICS.sockets, labelNames: ["node"], description: "Open live sockets on this node" });
		for (const [, name, description] of COUNTER_METRICS) metrics.register({ type: "counter", name, labelNames: ["node"], description });
	}

	/** Counters appear at 0 from the start (a node that routed nothing says so). */
	start(hub: LiveHub): void {
		for (const [, name] of COUNTER_METRICS) this.#broker.metrics.increment(name, this.#labels, 0);
		this.sync(hub);
	}

	sync(hub: LiveHub): void {
		this.#broker.metrics.set(LIVE_METRICS.sockets, hub.sockets.size, this.#labels);
		for (const [key, name] of COUNTER_METRICS) {
			const delta = hub.counters[key] - this.#reported[key];
			if (delta > 0) this.#broker.metrics.increment(name, this.#labels, delta);
			this.#reported[key] = hub.counters[key];
		}
	}
}
