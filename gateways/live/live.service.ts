import { App, us_listen_socket_close, type HttpResponse, type ListenOptions, type TemplatedApp, type us_listen_socket } from "uWebSockets.js";
import type { Context, ServiceSchema } from "moleculer";
import type { VentaSettings } from "../../runtime/engine.ts";
import { createTokenVerifier } from "../../lib/auth.ts";
import { checkReadiness } from "../../runtime/health.ts";
import { prometheusText } from "../../runtime/metrics.ts";
import { CLOSE_CODES } from "./protocol/codes.ts";
import type { DomainEvent } from "../../lib/events.ts";
import type { RouteParams } from "../../services/geo/geo.service.ts";
import { liveBehavior } from "./handlers.ts";
import { LiveHub, type LiveCounters } from "./hub.ts";
import { CellRouter } from "./router.ts";

export type { RouteParams };
export type KickParams = { vendorId: string };
export type StatsParams = { sockets?: boolean; cells?: boolean };
export type VendorStatusChanged = { id: string; ownerId: string | null; status: string; previous: string; canBroadcast: boolean };

/** Prometheus names (Moleculer turns dots into underscores), each labelled `node`. */
export const LIVE_METRICS = {
	sockets: "venta.live.sockets",
	positionsIn: "venta.live.positions.in.total",
	positionsDropped: "venta.live.positions.dropped.total",
	routedIn: "venta.live.routed.in.total",
	deliveries: "venta.live.deliveries.total",
} as const;

/**
 * uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT (the typings' ListenOptions enum is not a runtime export).
 * Without it uWS listens with SO_REUSEPORT: a second process on the same LIVE_PORT would silently
 * share the port instead of failing.
 */
const EXCLUSIVE_PORT = 1 as ListenOptions;

const COUNTER_METRICS: [keyof LiveCounters, string][] = [
	["positionsIn", LIVE_METRICS.positionsIn],
	["positionsDropped", LIVE_METRICS.positionsDropped],
	["routedIn", LIVE_METRICS.routedIn],
	["deliveries", LIVE_METRICS.deliveries],
];

type LiveMethods = {
	syncMetrics(): void;
	closeVendor(vendorId: string, code: number, reason: string): boolean;
	serveHttp(app: TemplatedApp): void;
};
type LiveVars = {
	hub: LiveHub;
	app: TemplatedApp;
	listenSocket: us_listen_socket | null;
	router: CellRouter | null;
	timer: NodeJS.Timeout | null;
	/** Counter values already added to the metric registry. */
	reported: LiveCounters;
};

function sendJson(res: HttpResponse, status: string, body: unknown): void {
	res.cork(() => {
		res.writeStatus(status).writeHeader("Content-Type", "application/json; charset=utf-8").writeHeader("Cache-Control", "no-store").end(JSON.stringify(body));
	});
}

const LiveService: ServiceSchema<VentaSettings, LiveMethods, LiveVars> = {
	name: "live",

	settings: {
		config: undefined as never,
	},

	actions: {
		/** Streams an update produced elsewhere (REST position, offline expiry) to this and interested nodes. */
		route: {
			visibility: "public",
			params: { vendorId: "string|min:1", cell: "string|min:1", previousCell: "string|optional|nullable", position: "object|optional" },
			handler(ctx: Context<RouteParams>): { routed: true } {
				const { vendorId, cell, position, previousCell } = ctx.params;
				this.hub.publishUpdate(vendorId, cell, position, previousCell);
				return { routed: true };
			},
		},

		/** This node's sockets, watchers, vendors, watched cells and counters (+ every socket, + watchers per cell). */
		stats: {
			params: { sockets: "boolean|optional|convert", cells: "boolean|optional|convert" },
			handler(ctx: Context<StatsParams>) {
				return {
					node: this.broker.nodeID,
					...this.hub.stats(),
					routingSubjects: this.router?.subjects ?? [],
					...(ctx.params.sockets ? { watchSets: this.hub.watchSets() } : {}),
					...(ctx.params.cells ? { cellWatchers: this.hub.cellWatchers() } : {}),
				};
			},
		},

		/** Disconnects a vendor's socket on every live node (code KICKED). */
		kick: {
			params: { vendorId: "string|min:1|max:128" },
			async handler(ctx: Context<KickParams>) {
				await ctx.broadcast("live.vendor_disconnect", { vendorId: ctx.params.vendorId, code: CLOSE_CODES.KICKED, reason: "kicked" }, { groups: ["live"] });
				return { vendorId: ctx.params.vendorId, requested: true };
			},
		},
	},

	events: {
		/** One live node receives the domain event; it tells every live node, wherever the socket is. */
		async "marketplace.vendor_status_changed"(ctx: Context<DomainEvent<VendorStatusChanged> | VendorStatusChanged>) {
			const data = "data" in ctx.params && "meta" in ctx.params ? ctx.params.data : (ctx.params as VendorStatusChanged);
			if (data.canBroadcast !== false) return;
			await ctx.broadcast("live.vendor_disconnect", { vendorId: data.id, code: CLOSE_CODES.BROADCAST_REVOKED, reason: `vendor ${data.status}` }, { groups: ["live"] });
		},

		/** A deleted user's sockets (watchers and vendors) are closed on every node. */
		async "marketplace.user_deleted"(ctx: Context<DomainEvent<{ id: string }>>) {
			const userId = ctx.params.data?.id;
			if (userId) await ctx.broadcast("live.user_disconnect", { userId }, { groups: ["live"] });
		},

		"live.vendor_disconnect"(ctx: Context<{ vendorId: string; code: number; reason: string }>) {
			this.closeVendor(ctx.params.vendorId, ctx.params.code, ctx.params.reason);
		},

		"live.user_disconnect"(ctx: Context<{ userId: string }>) {
			for (const ws of [...this.hub.sockets]) {
				if (ws.getUserData().user?.id === ctx.params.userId) this.hub.close(ws, CLOSE_CODES.UNAUTHORIZED, "user deleted");
			}
		},
	},

	methods: {
		syncMetrics(): void {
			const labels = { node: this.broker.nodeID };
			this.broker.metrics.set(LIVE_METRICS.sockets, this.hub.sockets.size, labels);
			for (const [key, name] of COUNTER_METRICS) {
				const delta = this.hub.counters[key] - this.reported[key];
				if (delta > 0) this.broker.metrics.increment(name, labels, delta);
				this.reported[key] = this.hub.counters[key];
			}
		},

		closeVendor(vendorId: string, code: number, reason: string): boolean {
			const ws = this.hub.vendorSockets.get(vendorId);
			if (!ws) return false;
			this.hub.close(ws, code, reason);
			return true;
		},

		/** /health/live, /health/ready and /metrics on LIVE_PORT, so a live-only node can be probed and scraped. */
		serveHttp(app: TemplatedApp): void {
			app.get("/health/live", res => sendJson(res, "200 OK", { status: "ok", nodeID: this.broker.nodeID }));
			app.get("/health/ready", res => {
				let aborted = false;
				res.onAborted(() => (aborted = true));
				checkReadiness(this.broker).then(r => {
					if (!aborted) sendJson(res, r.ready && !this.hub.draining ? "200 OK" : "503 Service Unavailable", r);
				});
			});
			app.get("/metrics", res => {
				this.syncMetrics();
				const text = prometheusText(this.broker);
				res.cork(() => res.writeHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(text));
			});
			app.any("/*", res => sendJson(res, "404 Not Found", { code: "NOT_FOUND", message: "Not found" }));
		},
	},

	created() {
		const { config } = this.settings;
		this.hub = new LiveHub(config.h3Res);
		this.reported = { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0 };
		this.listenSocket = null;
		this.router = null;
		this.timer = null;
		const metrics = this.broker.metrics;
		metrics.register({ type: "gauge", name: LIVE_METRICS.sockets, labelNames: ["node"], description: "Open live sockets on this node" });
		metrics.register({ type: "counter", name: LIVE_METRICS.positionsIn, labelNames: ["node"], description: "Positions from vendor sockets on this node, stored and streamed" });
		metrics.register({ type: "counter", name: LIVE_METRICS.positionsDropped, labelNames: ["node"], description: "Positions from vendor sockets dropped (invalid, rate limited, superseded or stale)" });
		metrics.register({ type: "counter", name: LIVE_METRICS.routedIn, labelNames: ["node"], description: "Updates this node received from other nodes" });
		metrics.register({ type: "counter", name: LIVE_METRICS.deliveries, labelNames: ["node"], description: "Messages sent to watchers" });
	},

	async started() {
		const { config } = this.settings;
		if (config.natsUrl) {
			this.router = await CellRouter.connect(config.natsUrl, config.namespace, `live-${this.broker.nodeID}`, (cell, vendorId, frame) =>
				this.hub.onRouted(cell, vendorId, frame)
			);
		}
		const verifyToken = createTokenVerifier({ clerkJwtKey: config.clerkJwtKey, authorizedParties: config.clerkAuthorizedParties, devSecret: config.devSecret });
		this.app = App();
		this.hub.attach(this.app, this.router);
		this.app.ws("/live", liveBehavior({ broker: this.broker, config, verifyToken, hub: this.hub, logger: this.logger }));
		this.serveHttp(this.app);
		this.listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
			this.app.listen(config.livePort, EXCLUSIVE_PORT, socket => (socket ? resolve(socket) : reject(new Error(`LIVE_PORT ${config.livePort} is not available`))));
		});
		this.timer = setInterval(() => {
			this.hub.sweepSlow(Date.now());
			this.syncMetrics();
		}, 1_000);
		// Counters appear at 0 from the start (a node that routed nothing says so).
		for (const [, name] of COUNTER_METRICS) this.broker.metrics.increment(name, { node: this.broker.nodeID }, 0);
		this.syncMetrics();
		this.logger.info({ port: config.livePort, routing: config.natsUrl ? "nats" : "local" }, "Live gateway listening on /live");
	},

	async stopped() {
		// Refuse new upgrades, tell every client to reconnect (elsewhere), then stop listening.
		this.hub.draining = true;
		if (this.timer) clearInterval(this.timer);
		for (const ws of [...this.hub.sockets]) {
			ws.getUserData().keepOnline = true;
			this.hub.close(ws, CLOSE_CODES.RECONNECT, "server restarting");
		}
		if (this.listenSocket) us_listen_socket_close(this.listenSocket);
		this.listenSocket = null;
		await this.router?.close();
	},
};

export default LiveService;
