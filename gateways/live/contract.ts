/** What the live service's actions take and answer (dependency-free); `live.route` takes geo's PositionChange. */

export type KickParams = { vendorId: string };
export type StatsParams = { sockets?: boolean; cells?: boolean };

/** One socket as operators see it. */
export type SocketView = {
	connId: number;
	user: string | null;
	vendorId: string | null;
	cells: number;
	buffered: number;
	behind: number;
	slow: boolean;
};

/** This node's demand signals (gateways/live/demand/): areas followed, the NATS messages, interest frames. */
export type LiveDemandStats = {
	/** Routing cells this node follows the other nodes' counts of (its vendors' rings, recent `live.demand` boxes). */
	follows: number;
	/** Their demand subjects on NATS. */
	subjects: string[];
	/** Other nodes whose counts this node holds. */
	boardNodes: number;
	/** Counts of an area published, and received (on followed subjects and in answers to this node's asks). */
	published: number;
	received: number;
	/** Asks of other nodes this node answered; malformed messages ignored. */
	answered: number;
	rejected: number;
	interestSent: number;
};

/** What `live.stats` answers on one node. */
export type LiveStats = {
	node: string;
	sockets: number;
	watchers: number;
	vendors: number;
	slowSockets: number;
	backpressureDrops: number;
	slowConsumersClosed: number;
	/** Alert frames sent to this node's sockets. */
	alertsSent: number;
	watchedCells: number;
	routingSubjects: string[];
	demand: LiveDemandStats;
	counters: { positionsIn: number; positionsDropped: number; routedIn: number; deliveries: number };
	watchSets?: SocketView[];
	cellWatchers?: { cell: string; watchers: number }[];
};

/** Prometheus names (Moleculer turns dots into underscores), each labelled `node`. */
export const LIVE_METRICS = {
	sockets: "venta.live.sockets",
	watchers: "venta.live.watchers",
	vendors: "venta.live.vendors",
	slowSockets: "venta.live.slow.sockets",
	backpressureDrops: "venta.live.backpressure.drops.total",
	slowConsumersClosed: "venta.live.slow.consumers.closed.total",
	positionsIn: "venta.live.positions.in.total",
	positionsDropped: "venta.live.positions.dropped.total",
	routedIn: "venta.live.routed.in.total",
	deliveries: "venta.live.deliveries.total",
	alertsSent: "venta.live.alerts.sent.total",
	watchedCells: "venta.live.watched.cells",
	demandPublished: "venta.live.demand.published.total",
	demandReceived: "venta.live.demand.received.total",
	interestSent: "venta.live.interest.sent.total",
} as const;
