import { PRIVILEGED } from "../../lib/identity.ts";
import type { Context } from "moleculer";
import { App, us_listen_socket_close, type ListenOptions, type TemplatedApp, type us_listen_socket } from "uWebSockets.js";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { createTokenVerifier } from "../../lib/auth.ts";
import type { DomainEvent } from "../../lib/events.ts";
import { vendorIdParam } from "../../lib/ids.ts";
import { natsConnectionOptions } from "../../runtime/nats.ts";
import type { PositionChange, VendorOffline } from "../../services/geo/contract.ts";
import type { DemandCounts, DemandCountsParams } from "../../services/discovery/contract.ts";
import type { VendorStatusChanged } from "../../services/vendors/contract.ts";
import type { AlertFired } from "../../services/alerts/contract.ts";
import { alertFrame, inNodeGroup } from "./alerts.ts";
import { NodeDemand } from "./demand/node.ts";
import { demandQuery } from "./demand/query.ts";
import type { KickParams, LiveStats, StatsParams } from "./contract.ts";
import { serveHttp } from "./http.ts";
import { LiveHub } from "./hub.ts";
import { LiveMetrics } from "./metrics.ts";
import { encode } from "./protocol/codec.ts";
import { CLOSE_CODES } from "./protocol/codes.ts";
import { CellRouter } from "./router.ts";
import { LiveSessions } from "./session.ts";
import { MAX_BACKPRESSURE_BYTES } from "./slow-consumers.ts";
import { upgradeHandler } from "./upgrade.ts";

/** Largest inbound frame; a full watch set of cell ids fits, anything bigger is closed by uWS (1009). */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT (the typings' ListenOptions enum is not a runtime export).
 * Without it uWS listens with SO_REUSEPORT: a second process on the same LIVE_PORT would silently
 * share the port instead of failing.
 */
const EXCLUSIVE_PORT = 1 as ListenOptions;
/** uWS takes (host, port, options, cb) at run time; its typings list only the shorter forms. */
type ListenOnHost = (host: string, port: number, options: ListenOptions, cb: (socket: us_listen_socket | false) => void) => TemplatedApp;

type VendorDisconnect = { vendorId: string; code: number; reason: string };

type LiveMethods = {
	listen(): Promise<us_listen_socket>;
	stopAccepting(): void;
	checkReady(): Promise<void>;
	deliverAlert(event: DomainEvent<AlertFired>): void;
};
type LiveVars = {
	hub: LiveHub;
	demand: NodeDemand;
	metrics: LiveMetrics;
	app: TemplatedApp;
	listenSocket: us_listen_socket | null;
	router: CellRouter | null;
	sessions: LiveSessions;
	timer: NodeJS.Timeout | null;
};

/**
 * The live gateway (uWebSockets.js on LIVE_PORT): `/live` sockets for watchers and vendors, one
 * uWS topic per H3 cell, cross-node routing over NATS, and `/health`, `/metrics` on the same port.
 */
const LiveService: VentaServiceSchema<object, LiveMethods, LiveVars> = {
	name: "live",

	actions: {
		/** Streams a change produced elsewhere (a REST position) to this and interested nodes. */
		route: {
			params: {
				vendorId: vendorIdParam,
				cell: "string|min:1|max:20",
				previousCell: "string|optional|nullable|max:20",
				position: "object|optional",
			},
			handler(ctx: Context<PositionChange>): { routed: true } {
				this.hub.publish(ctx.params);
				return { routed: true };
			},
		},

		/** This node's sockets, watchers, vendors, watched cells and counters (+ every socket, + watchers per cell). */
		stats: {
			params: { sockets: "boolean|optional|convert", cells: "boolean|optional|convert" },
			handler(ctx: Context<StatsParams>): LiveStats {
				return {
					node: this.broker.nodeID,
					...this.hub.stats(),
					routingSubjects: this.router?.subjects ?? [],
					demand: this.demand.stats(),
					...(ctx.params.sockets ? { watchSets: this.hub.watchSets() } : {}),
					...(ctx.params.cells ? { cellWatchers: this.hub.cellWatchers() } : {}),
				};
			},
		},

		/** Watchers per cell in a box, at the fine or the coarse demand level, across the cluster (raw counts: privileged). */
		demand: {
			roles: PRIVILEGED,
			params: {
				bbox: [
					{ type: "string", max: 200 },
					{ type: "array", items: "number", max: 4 },
				],
				res: "number|integer|optional|convert",
			},
			handler(ctx: Context<DemandCountsParams>): Promise<DemandCounts> {
				const { bbox, res } = demandQuery(ctx.params, this.settings.config.h3Res);
				return this.demand.cluster.counts(bbox, res);
			},
		},

		/** Disconnects a vendor's socket on every live node (code KICKED). */
		kick: {
			roles: PRIVILEGED,
			params: { vendorId: vendorIdParam },
			async handler(ctx: Context<KickParams>) {
				await ctx.broadcast(
					"live.vendor_disconnect",
					{ vendorId: ctx.params.vendorId, code: CLOSE_CODES.KICKED, reason: "kicked" },
					{ groups: ["live"] }
				);
				return { vendorId: ctx.params.vendorId, requested: true };
			},
		},
	},

	events: {
		/** One live node receives the domain event; it tells every live node, wherever the socket is. */
		async "marketplace.vendor_status_changed"(ctx: Context<DomainEvent<VendorStatusChanged>>) {
			const { data } = ctx.params;
			if (data.canBroadcast) return;
			await ctx.broadcast(
				"live.vendor_disconnect",
				{ vendorId: data.id, code: CLOSE_CODES.BROADCAST_REVOKED, reason: `vendor ${data.status}` },
				{ groups: ["live"] }
			);
		},

		/** A deleted user's sockets (watchers and vendors) are closed on every node. */
		async "marketplace.user_deleted"(ctx: Context<DomainEvent<{ id: string }>>) {
			await ctx.broadcast("live.user_disconnect", { userId: ctx.params.data.id }, { groups: ["live"] });
		},

		/** geo took a vendor offline (socket closed, or silent too long): watchers of its cell get `gone`. */
		"location.vendor_offline"(ctx: Context<DomainEvent<VendorOffline>>) {
			const { vendorId, cell } = ctx.params.data;
			this.hub.publish({ vendorId, cell });
		},

		/** A customer's alert fired: every socket of that user on this node gets the frame (each live node is its own group). */
		"location.proximity_alert": {
			handler(ctx: Context<DomainEvent<AlertFired>>) {
				this.deliverAlert(ctx.params);
			},
		},
		"location.geofence_triggered": {
			handler(ctx: Context<DomainEvent<AlertFired>>) {
				this.deliverAlert(ctx.params);
			},
		},

		"live.vendor_disconnect"(ctx: Context<VendorDisconnect>) {
			this.hub.closeVendor(ctx.params.vendorId, ctx.params.code, ctx.params.reason);
		},

		/** A node left the mesh: its watcher counts go from this node's board. */
		"$node.disconnected"(ctx: Context<{ node: { id: string } }>) {
			this.demand.cluster.nodeLeft(ctx.params.node.id);
		},

		"live.user_disconnect"(ctx: Context<{ userId: string }>) {
			this.hub.closeUser(ctx.params.userId, CLOSE_CODES.UNAUTHORIZED, "user deleted");
		},
	},

	methods: {
		deliverAlert(event: DomainEvent<AlertFired>): void {
			const alert = alertFrame(event);
			if (alert) this.hub.users.send(alert.userId, encode.alert(alert.frame));
		},

		/** Shutdown begins (runtime/lifecycle.ts): new upgrades are refused from this moment. */
		stopAccepting(): void {
			this.hub.draining = true;
		},

		/** Readiness (runtime/health.ts): not while draining, nor while the routing connection to NATS is down. */
		async checkReady(): Promise<void> {
			if (this.hub.draining) throw new Error("draining");
			await this.router?.check();
			await this.demand.check();
		},

		listen(): Promise<us_listen_socket> {
			const { host, livePort } = this.settings.config;
			return new Promise((resolve, reject) => {
				(this.app.listen as unknown as ListenOnHost).call(this.app, host, livePort, EXCLUSIVE_PORT, socket =>
					socket ? resolve(socket) : reject(new Error(`LIVE_PORT ${livePort} is not available on ${host}`))
				);
			});
		},
	},

	merged(schema) {
		schema.events = inNodeGroup(schema.events, this.broker.nodeID) as typeof schema.events;
	},

	created() {
		this.hub = new LiveHub(this.settings.config.h3Res, this.settings.config.liveFlushMs);
		this.demand = new NodeDemand({
			hub: this.hub,
			config: this.settings.config,
			node: this.broker.nodeID,
			otherNodes: () =>
				this.broker.registry.getActionEndpoints("live.demand")?.endpoints.filter(e => e.isAvailable && !e.local).length ?? 0,
		});
		this.metrics = new LiveMetrics(this.broker);
		this.listenSocket = null;
		this.router = null;
		this.timer = null;
	},

	async started() {
		const { config } = this.settings;
		if (config.natsUrl) {
			this.router = await CellRouter.connect(
				natsConnectionOptions(config.natsUrl, config.nats),
				config.namespace,
				`live-${this.broker.nodeID}`,
				(cell, vendorId, frame) => this.hub.onRouted(cell, vendorId, frame)
			);
			await this.demand.connect(natsConnectionOptions(config.natsUrl, config.nats));
		}
		const verifyToken = createTokenVerifier(config);
		this.sessions = new LiveSessions({
			broker: this.broker,
			config,
			hub: this.hub,
			logger: this.logger,
			verifyToken,
			vendorAt: (vendorId, cell) => this.demand.interest.moved(vendorId, cell),
		});
		this.app = App();
		this.hub.attach(this.app, this.router);
		this.app.ws("/live", {
			maxPayloadLength: MAX_FRAME_BYTES,
			maxBackpressure: MAX_BACKPRESSURE_BYTES,
			closeOnBackpressureLimit: false,
			idleTimeout: 60,
			sendPingsAutomatically: true,
			upgrade: upgradeHandler({
				broker: this.broker,
				verifyToken,
				hub: this.hub,
				logger: this.logger,
				budgets: { positionMaxHz: config.positionMaxHz, opsPerS: config.liveOpsPerS },
				maxSocketsPerIp: config.liveMaxSocketsPerIp,
				clientIpHeader: config.clientIpHeader,
			}),
			...this.sessions.handlers(),
		});
		serveHttp(this.app, this.broker, config.metricsToken, () => this.metrics.sync(this.hub, this.demand));
		this.listenSocket = await this.listen();
		this.timer = setInterval(() => {
			const now = Date.now();
			this.hub.slow.sweep(now);
			this.sessions.tick(now);
			this.demand.tick(now);
			this.metrics.sync(this.hub, this.demand);
		}, 1_000);
		this.metrics.start(this.hub, this.demand);
		this.logger.info({ port: config.livePort, routing: config.natsUrl ? "nats" : "local" }, "Live gateway listening on /live");
	},

	async stopped() {
		// Refuse new upgrades, tell every client to reconnect (elsewhere), then stop listening.
		this.hub.draining = true;
		if (this.timer) clearInterval(this.timer);
		this.hub.closeAll(CLOSE_CODES.RECONNECT, "server restarting");
		if (this.listenSocket) us_listen_socket_close(this.listenSocket);
		this.listenSocket = null;
		await Promise.all([this.router?.close(), this.demand.close()]);
	},
};

export default LiveService;
