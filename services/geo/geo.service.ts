import { latLngToCell } from "h3-js";
import { Errors, type Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { invalidBBox, unavailable, validationError } from "../../lib/errors.ts";
import { MAX_RADIUS_M, parseBBox, splitBBox } from "../../lib/geo.ts";
import { vendorIdParam } from "../../lib/ids.ts";
import { soleReplicaMixin } from "../../mixins/sole-replica.mixin.ts";
import {
	changeOf,
	LOCATION_EVENT_EVERY_MS,
	MAX_NEARBY_LIMIT,
	UPDATE_MANY_MAX,
	type GetParams,
	type HeatmapParams,
	type HeatmapResult,
	type HistoryParams,
	type InCellsParams,
	type NearbyHit,
	type NearbyParams,
	type PositionChange,
	type SetOfflineParams,
	type SetOfflineResult,
	type StoredPosition,
	type UpdateManyItemResult,
	type UpdateManyParams,
	type UpdateParams,
	type UpdateResult,
	type VendorLocation,
} from "./contract.ts";
import { alertingPart, type AlertingMethods, type AlertingVars } from "./alerting.ts";
import { MemoryGeoStore } from "./memory.store.ts";
import { RedisGeoStore } from "./redis.store.ts";
import type { GeoStore } from "./store.ts";
import { GeoWriter } from "./writer.ts";

/** Vendors taken offline per sweep at most. */
const EXPIRY_BATCH = 500;

type GeoMethods = AlertingMethods & {
	announce(ctx: Context | null, change: PositionChange): Promise<void>;
	checkStore(): Promise<void>;
};
type GeoVars = AlertingVars & {
	store: GeoStore;
	writer: GeoWriter;
	timers: NodeJS.Timeout[];
};

/**
 * Live positions: the latest per vendor, online/offline, history, nearby and per-cell reads.
 * Writes go through `GeoWriter`; the store is Redis with REDIS_URL, in-process otherwise. Every
 * accepted position is tested against the alerts' fences (alerting.ts, mixed in).
 */
const GeoService: VentaServiceSchema<object, GeoMethods, GeoVars> = {
	name: "geo",
	// In-process positions are this process's own: a second replica would be a second store.
	mixins: [alertingPart, soleReplicaMixin(config => !config.redisUrl, "REDIS_URL")],

	hooks: {
		error: {
			/** A store fault (Redis down, frozen, timing out) is a 503 for the caller, never a driver's error. */
			"*"(ctx: Context, err: Error) {
				if (err instanceof Errors.MoleculerError) throw err;
				this.logger.warn({ requestId: ctx.requestID, err: err.message, action: ctx.action?.name }, "Geo store unavailable");
				throw unavailable("The geo store is unavailable; retry shortly");
			},
		},
	},

	actions: {
		/**
		 * One position (the REST path), announced to watchers through the live gateways. Callers
		 * without a local geo are sharded by vendor id, so one geo node takes a vendor's REST writes.
		 */
		update: {
			strategy: "Shard",
			strategyOptions: { shardKey: "vendorId" },
			params: { vendorId: vendorIdParam, $$strict: false },
			async handler(ctx: Context<UpdateParams>): Promise<UpdateResult> {
				const result = await this.writer.writeOne(ctx, ctx.params, Date.now());
				if (result.applied === false && result.reason === "invalid") {
					throw validationError("Invalid position", [{ type: "position", field: result.field, message: result.message }]);
				}
				if (result.applied) await this.announce(ctx, changeOf(result));
				return result;
			},
		},

		/**
		 * Group commit for the live gateways: many vendors' positions in one call, each validated
		 * and written as `update` does, one result per position in order (an invalid or stale one
		 * does not fail the others). The calling live node announces what was applied itself.
		 */
		updateMany: {
			params: { positions: { type: "array", max: UPDATE_MANY_MAX } },
			handler(ctx: Context<UpdateManyParams>): Promise<UpdateManyItemResult[]> {
				return this.writer.writeMany(ctx, ctx.params.positions, Date.now());
			},
		},

		get: {
			params: { vendorId: vendorIdParam },
			handler(ctx: Context<GetParams>): Promise<VendorLocation | null> {
				return this.store.get(ctx.params.vendorId);
			},
		},

		nearby: {
			params: {
				lat: "number|min:-90|max:90|convert",
				lng: "number|min:-180|max:180|convert",
				radius: `number|positive|max:${MAX_RADIUS_M}|convert`,
				limit: `number|integer|positive|max:${MAX_NEARBY_LIMIT}|optional|convert`,
			},
			handler(ctx: Context<NearbyParams>): Promise<NearbyHit[]> {
				const { lat, lng, radius, limit = 50 } = ctx.params;
				return this.store.nearby(lat, lng, radius, limit);
			},
		},

		/** Live vendor counts per H3 cell at `res` inside the bbox. */
		heatmap: {
			params: {
				bbox: [
					{ type: "string", max: 200 },
					{ type: "array", items: "number", max: 4 },
				],
				res: "number|integer|min:0|max:15|optional|convert",
			},
			async handler(ctx: Context<HeatmapParams>): Promise<HeatmapResult> {
				const bbox = parseBBox(ctx.params.bbox);
				if (!bbox) throw invalidBBox();
				const res = ctx.params.res ?? this.settings.config.h3Res;
				const counts = new Map<string, number>();
				const positions = (await Promise.all(splitBBox(bbox).map(part => this.store.inBBox(part)))).flat();
				for (const p of positions) {
					const cell = latLngToCell(p.lat, p.lng, res);
					counts.set(cell, (counts.get(cell) ?? 0) + 1);
				}
				const cells = [...counts]
					.map(([cell, count]) => ({ cell, count }))
					.sort((a, b) => b.count - a.count || a.cell.localeCompare(b.cell));
				return { bbox, res, total: positions.length, cells };
			},
		},

		/** Online vendors currently in any of the cells (the live gateway's snapshot). */
		inCells: {
			params: { cells: { type: "array", items: "string", max: 100_000 } },
			handler(ctx: Context<InCellsParams>): Promise<StoredPosition[]> {
				return this.store.inCells(ctx.params.cells);
			},
		},

		/** A vendor socket closed: offline now, announced (`location.vendor_offline`). */
		setOffline: {
			params: { vendorId: vendorIdParam },
			async handler(ctx: Context<SetOfflineParams>): Promise<SetOfflineResult> {
				const position = await this.writer.takeOffline(ctx, ctx.params.vendorId);
				return { wasOnline: position !== null, cell: position?.cell ?? null };
			},
		},

		history: {
			params: { vendorId: vendorIdParam },
			handler(ctx: Context<HistoryParams>): Promise<StoredPosition[]> {
				return this.store.history(ctx.params.vendorId);
			},
		},
	},

	methods: {
		/** Hands a change to the live gateways; a cluster without one simply has no watchers. */
		async announce(ctx: Context | null, change: PositionChange): Promise<void> {
			try {
				await (ctx ? ctx.call("live.route", change) : this.broker.call("live.route", change));
			} catch (err) {
				if (!(err instanceof Errors.ServiceNotFoundError))
					this.logger.warn(
						{ requestId: ctx?.requestID ?? null, err: (err as Error).message, vendorId: change.vendorId },
						"Could not route a position to the live gateways"
					);
			}
		},

		checkStore(): Promise<void> {
			return this.store.check();
		},
	},

	created() {
		const { config } = this.settings;
		this.store = config.redisUrl
			? new RedisGeoStore(config.redisUrl, `${config.namespace}:geo:`, config.h3Res)
			: new MemoryGeoStore(config.h3Res);
		this.writer = new GeoWriter({
			store: this.store,
			h3Res: config.h3Res,
			maxAgeMs: config.vendorOfflineAfterS * 1000,
			emit: (ctx, name, data, context) => emitDomainEvent(this, ctx, name, data, context),
			fences: this.fenceWatcher,
		});
		this.timers = [];
	},

	started() {
		const { vendorOfflineAfterS } = this.settings.config;
		const sweep = setInterval(
			() => {
				this.writer
					.expireSilent(Date.now() - vendorOfflineAfterS * 1000, EXPIRY_BATCH)
					.catch(err => this.logger.warn({ err: (err as Error).message }, "Offline sweep failed"));
			},
			Math.min(1_000, vendorOfflineAfterS * 250)
		);
		const flush = setInterval(() => this.writer.flushLocationEvents(), LOCATION_EVENT_EVERY_MS);
		this.timers.push(sweep, flush);
	},

	async stopped() {
		for (const t of this.timers) clearInterval(t);
		this.writer.flushLocationEvents();
		await this.store.close();
	},
};

export default GeoService;
