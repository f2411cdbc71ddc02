import type { Context } from "moleculer";
import { servicePart, type VentaService } from "../../config/settings.ts";
import { emitDomainEvent, type DomainEventName } from "../../lib/events.ts";
import { serviceCaller } from "../../lib/identity.ts";
import { FENCES_CHANGED_EVENT, HERE_EVENT, type AlertFired, type Fence, type FencesChanged, type HereUpdate } from "../alerts/contract.ts";
import type { DiscoverableParams, Vendor } from "../vendors/contract.ts";
import { VendorCategories } from "./fences/categories.ts";
import { FenceEvaluator } from "./fences/evaluate.ts";
import { RedisFenceState } from "./fences/redis.state.ts";
import { MemoryFenceState } from "./fences/state.ts";
import type { PositionWatcher } from "./writer.ts";

/** The alerts' metrics (Prometheus names with `_` for `.`), labelled `node`; `fired` also `kind`. */
export const ALERT_METRICS = {
	evaluated: "venta.alerts.evaluated.total",
	fired: "venta.alerts.fired.total",
	fences: "venta.alerts.fences",
} as const;

/** A vendor_nearby alert is a proximity alert; an area alert or a zone, a geofence. */
const FIRED_EVENT: Record<Fence["kind"], DomainEventName> = {
	vendor_nearby: "location.proximity_alert",
	area: "location.geofence_triggered",
	zone: "location.geofence_triggered",
};

const FENCES_ACTION = "alerts.fences";
/** A failed load of alerts.fences is retried after this long (while the alerts service is in the mesh). */
const RELOAD_AFTER_MS = 2_000;
const METRICS_EVERY_MS = 1_000;
/** How often shared positions older than HERE_TTL_S are forgotten. */
const HERE_SWEEP_EVERY_MS = 10_000;

export type AlertingVars = {
	fences: FenceEvaluator;
	fenceWatcher: PositionWatcher;
	fenceTimers: NodeJS.Timeout[];
	/** Changes received while a load runs, applied again after it (the load may predate them). */
	fenceChangesDuringLoad: FencesChanged[] | null;
	alertsInMesh: boolean;
	reportedCounts: { evaluated: number; fired: Record<Fence["kind"], number> };
};
export type AlertingMethods = { fencesAvailable(): boolean; loadFences(): Promise<void>; syncAlertMetrics(): void };
type This = VentaService<object, AlertingMethods, AlertingVars>;

/**
 * The geo service's half of alerts: it evaluates the fences on every accepted position (the
 * writer hands them over), loads them from the alerts service when it is in the mesh (never
 * blocking geo's start), follows their changes and the customers' shared positions, and emits
 * `location.proximity_alert` / `location.geofence_triggered`.
 */
export const alertingPart = servicePart<object, AlertingMethods, AlertingVars>({
	events: {
		[FENCES_CHANGED_EVENT](this: This, ctx: Context<FencesChanged>) {
			this.fenceChangesDuringLoad?.push(ctx.params);
			this.fences.apply(ctx.params);
		},
		[HERE_EVENT](this: This, ctx: Context<HereUpdate>) {
			this.fences.here(ctx.params);
		},
		/** The alerts service joined (or came back): load its fences. */
		"$services.changed"(this: This) {
			const present = this.fencesAvailable();
			if (present && !this.alertsInMesh) void this.loadFences();
			this.alertsInMesh = present;
		},
		"cache.clean.vendors"(this: This) {
			this.fences.categories.clear();
		},
	},

	methods: {
		/** Whether an alerts service that answers alerts.fences is in the mesh. */
		fencesAvailable(this: This): boolean {
			return this.broker.registry.getActionEndpoints(FENCES_ACTION)?.hasAvailable() ?? false;
		},

		async loadFences(this: This): Promise<void> {
			if (this.fenceChangesDuringLoad) return;
			this.fenceChangesDuringLoad = [];
			try {
				const fences = await this.broker.call<Fence[], object>(FENCES_ACTION, {}, { meta: { user: serviceCaller("geo") } });
				await this.fences.load(fences);
				for (const changes of this.fenceChangesDuringLoad) this.fences.apply(changes);
				this.logger.info({ fences: fences.length }, "Fences loaded");
			} catch (err) {
				this.logger.warn({ err: (err as Error).message }, "Could not load the fences; retrying");
				const retry = setTimeout(() => {
					if (this.fencesAvailable()) void this.loadFences();
				}, RELOAD_AFTER_MS);
				this.fenceTimers.push(retry);
			} finally {
				this.fenceChangesDuringLoad = null;
			}
		},

		syncAlertMetrics(this: This): void {
			const labels = { node: this.broker.nodeID };
			const { counts } = this.fences;
			const reported = this.reportedCounts;
			this.broker.metrics.increment(ALERT_METRICS.evaluated, labels, counts.evaluated - reported.evaluated);
			reported.evaluated = counts.evaluated;
			for (const kind of Object.keys(counts.fired) as Fence["kind"][]) {
				this.broker.metrics.increment(ALERT_METRICS.fired, { ...labels, kind }, counts.fired[kind] - reported.fired[kind]);
				reported.fired[kind] = counts.fired[kind];
			}
			this.broker.metrics.set(ALERT_METRICS.fences, this.fences.size, labels);
		},
	},

	created(this: This) {
		const { config } = this.settings;
		const state = config.redisUrl
			? new RedisFenceState(config.redisUrl, `${config.namespace}:geo:`, config.vendorOfflineAfterS * 1000)
			: new MemoryFenceState();
		const categories = new VendorCategories(
			async ids =>
				(await this.broker.call<Vendor[], DiscoverableParams>("vendors.discoverable", { ids })).map(v => ({
					id: v.id,
					categories: v.categories,
				})),
			err => this.logger.warn({ err: err.message }, "Could not fetch vendor categories for the fences")
		);
		this.fences = new FenceEvaluator({
			state,
			categories,
			positionRes: config.h3Res,
			fire: (ctx, fired: AlertFired) =>
				emitDomainEvent(this, ctx, FIRED_EVENT[fired.kind], fired, { vendorId: fired.vendorId, userId: fired.userId }),
		});
		// An evaluation that fails (Redis down) is logged; the position itself was written.
		const failed = (err: Error) => this.logger.warn({ err: err.message }, "Fence evaluation failed");
		this.fenceWatcher = {
			evaluate: (ctx, position) => this.fences.evaluate(ctx, position)?.catch(failed),
			offline: (vendorId, lastTs) => this.fences.offline(vendorId, lastTs).catch(failed),
		};
		this.fenceTimers = [];
		this.fenceChangesDuringLoad = null;
		this.alertsInMesh = false;
		this.reportedCounts = { evaluated: 0, fired: { vendor_nearby: 0, area: 0, zone: 0 } };
		const metrics = this.broker.metrics;
		metrics.register({
			type: "counter",
			name: ALERT_METRICS.evaluated,
			labelNames: ["node"],
			description: "Fence tests of accepted positions",
		});
		metrics.register({
			type: "counter",
			name: ALERT_METRICS.fired,
			labelNames: ["node", "kind"],
			description: "Alert and zone transitions fired",
		});
		metrics.register({ type: "gauge", name: ALERT_METRICS.fences, labelNames: ["node"], description: "Fences loaded on this geo node" });
	},

	started(this: This) {
		this.alertsInMesh = this.fencesAvailable();
		if (this.alertsInMesh) void this.loadFences();
		this.syncAlertMetrics();
		this.fenceTimers.push(
			setInterval(() => this.fences.expireHere(), HERE_SWEEP_EVERY_MS),
			setInterval(() => this.syncAlertMetrics(), METRICS_EVERY_MS)
		);
	},

	async stopped(this: This) {
		for (const t of this.fenceTimers) clearTimeout(t);
		await this.fences.close();
	},
});
