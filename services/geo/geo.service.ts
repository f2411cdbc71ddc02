import { Errors, type Context, type ServiceSchema } from "moleculer";
import { latLngToCell } from "h3-js";
import type { VentaSettings } from "../../runtime/engine.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { isValidBBox, splitBBox, type BBox } from "../../gateways/live/cells.ts";
import { checkPosition, type Position, type PositionInput } from "../../lib/position.ts";
import type { ApplyResult, GeoStore, NearbyHit, StoredPosition, VendorLocation } from "./store.ts";
import { MemoryGeoStore } from "./memory.store.ts";
import { RedisGeoStore } from "./redis.store.ts";

export type UpdateParams = { vendorId: string } & PositionInput;
export type UpdateResult =
	| { applied: true; location: VendorLocation; previous: { cell: string; online: boolean } | null }
	| { applied: false; reason: "stale" };
export type UpdateManyParams = { positions: UpdateParams[] };
/** One result per position of geo.updateMany, in order: applied, stale, or invalid (and why). */
export type InvalidPosition = { applied: false; reason: "invalid"; field: string; message: string };
export type UpdateManyItemResult = UpdateResult | InvalidPosition;
export type GetParams = { vendorId: string };
export type GetManyParams = { vendorIds: string[] };
export type NearbyParams = { lat: number; lng: number; radius: number; limit?: number };
export type HeatmapParams = { bbox: BBox | string; res?: number | string };
export type HeatmapResult = { bbox: BBox; res: number; total: number; cells: { cell: string; count: number }[] };
export type InCellsParams = { cells: string[] };
export type SetOfflineParams = { vendorId: string };
export type HistoryParams = { vendorId: string };
export type LocationParams = { id: string };
export type ReportParams = { id: string } & PositionInput;

/** Positions kept per vendor by geo.history. */
export const HISTORY_LENGTH = 50;
/** location.vendor_location_updated is emitted at most this often per vendor. */
export const LOCATION_EVENT_EVERY_MS = 5_000;
export const MAX_NEARBY_RADIUS_M = 50_000;
export const MAX_NEARBY_LIMIT = 500;
/** Largest batch geo.updateMany takes. */
export const UPDATE_MANY_MAX = 1_000;
const EXPIRY_BATCH = 500;
const noop = () => undefined;

type GeoMethods = {
	checkItem(item: unknown, now: number): StoredPosition | InvalidPosition;
	writePosition(ctx: Context, params: UpdateParams, now: number): Promise<UpdateManyItemResult>;
	writeMany(ctx: Context, items: unknown[], now: number): Promise<UpdateManyItemResult[]>;
	applyOne(ctx: Context, position: StoredPosition): Promise<UpdateResult>;
	recordApplied(ctx: Context, position: StoredPosition, result: ApplyResult, events: Promise<void>[]): UpdateResult;
	serial<T>(vendorId: string, task: () => Promise<T>): Promise<T>;
	takeOffline(ctx: Context | null, vendorId: string, seenAtOrBefore?: number): Promise<StoredPosition | null>;
	expireSilent(): Promise<void>;
	flushLocationEvents(): void;
	route(ctx: Context | null, params: RouteParams): Promise<void>;
	checkStore(): Promise<void>;
};
type GeoVars = {
	store: GeoStore;
	/** Per-vendor write chains on this node: one write per vendor at a time, in arrival order. */
	chains: Map<string, Promise<unknown>>;
	/** Latest accepted position per vendor since the last location.vendor_location_updated flush. */
	dirty: Map<string, StoredPosition>;
	/** Last accepted REST report per vendor (REST is the low-rate path; sockets have their own limiter). */
	lastReport: Map<string, number>;
	timers: NodeJS.Timeout[];
};

/** What live.route takes: a position to stream to its cell (+ `gone` on the cell left), or a `gone`. */
export type RouteParams = { vendorId: string; cell: string; position?: Position; previousCell?: string | null };

const validation = (field: string, message: string) =>
	new Errors.MoleculerClientError("Invalid position", 422, "VALIDATION_ERROR", [{ type: "position", field, message }]);

function parseBBox(value: BBox | string): BBox {
	const bbox = typeof value === "string" ? value.split(",").map(v => (v.trim() === "" ? NaN : Number(v))) : value;
	if (!isValidBBox(bbox)) {
		throw new Errors.MoleculerClientError("bbox must be w,s,e,n: lng in [-180, 180] (w > e crosses the antimeridian), lat in [-90, 90], s < n", 422, "VALIDATION_ERROR", [
			{ type: "bbox", field: "bbox", message: "invalid bbox" },
		]);
	}
	return bbox;
}

const GeoService: ServiceSchema<VentaSettings & { rest: string }, GeoMethods, GeoVars> = {
	name: "geo",

	settings: {
		config: undefined as never,
		// REST aliases below are absolute (/vendors/…, /discovery/…), not under /geo.
		rest: "/",
	},

	actions: {
		/**
		 * The write path for single positions (REST; socket sessions batch through updateMany,
		 * which writes each position the same way). Callers without a local
		 * geo (api-only, live-only nodes) are sharded by vendor id, so one geo node writes a
		 * vendor; Moleculer's preferLocal sends a node with geo to its own. Either way the
		 * store applies each vendor write atomically (Lua script / one thread) and this node
		 * runs one write per vendor at a time, so transitions are decided without races.
		 */
		update: {
			strategy: "Shard",
			strategyOptions: { shardKey: "vendorId" },
			params: { vendorId: "string|min:1|max:128", $$strict: false },
			async handler(ctx: Context<UpdateParams>): Promise<UpdateResult> {
				const result = await this.writePosition(ctx, ctx.params, Date.now());
				if (result.applied === false && result.reason === "invalid") throw validation(result.field, result.message);
				return result;
			},
		},

		/**
		 * Group commit for the live gateways: many vendors' positions in one call, each validated
		 * and written exactly as `update` does, one result per position in order (an invalid or
		 * stale position does not fail the others). The caller is the single writer of these
		 * vendors (their socket sessions) and sends a vendor again only after this returns;
		 * the store decides each write atomically, so any geo node may take a batch.
		 */
		updateMany: {
			visibility: "public",
			params: { positions: { type: "array", max: UPDATE_MANY_MAX } },
			handler(ctx: Context<UpdateManyParams>): Promise<UpdateManyItemResult[]> {
				return this.writeMany(ctx, ctx.params.positions, Date.now());
			},
		},

		get: {
			params: { vendorId: "string|min:1|max:128" },
			handler(ctx: Context<GetParams>): Promise<VendorLocation | null> {
				return this.store.get(ctx.params.vendorId);
			},
		},

		getMany: {
			params: { vendorIds: { type: "array", items: "string|min:1|max:128", max: 1000 } },
			handler(ctx: Context<GetManyParams>): Promise<(VendorLocation | null)[]> {
				return this.store.getMany(ctx.params.vendorIds);
			},
		},

		nearby: {
			params: {
				lat: "number|min:-90|max:90|convert",
				lng: "number|min:-180|max:180|convert",
				radius: `number|positive|max:${MAX_NEARBY_RADIUS_M}|convert`,
				limit: `number|integer|positive|max:${MAX_NEARBY_LIMIT}|optional|convert`,
			},
			handler(ctx: Context<NearbyParams>): Promise<NearbyHit[]> {
				const { lat, lng, radius, limit = 50 } = ctx.params;
				return this.store.nearby(lat, lng, radius, limit);
			},
		},

		/** Live vendor counts per H3 cell at `res` inside the bbox. */
		heatmap: {
			rest: "GET /discovery/heatmap",
			params: { bbox: [{ type: "string" }, { type: "array", items: "number" }], res: "number|integer|min:0|max:15|optional|convert" },
			async handler(ctx: Context<HeatmapParams>): Promise<HeatmapResult> {
				const bbox = parseBBox(ctx.params.bbox);
				const res = Number(ctx.params.res ?? this.settings.config.h3Res);
				const counts = new Map<string, number>();
				const positions = (await Promise.all(splitBBox(bbox).map(part => this.store.inBBox(part)))).flat();
				for (const p of positions) {
					const cell = latLngToCell(p.lat, p.lng, res);
					counts.set(cell, (counts.get(cell) ?? 0) + 1);
				}
				const cells = [...counts].map(([cell, count]) => ({ cell, count })).sort((a, b) => b.count - a.count || a.cell.localeCompare(b.cell));
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

		setOffline: {
			params: { vendorId: "string|min:1|max:128" },
			async handler(ctx: Context<SetOfflineParams>): Promise<{ wasOnline: boolean; cell: string | null }> {
				const position = await this.takeOffline(ctx, ctx.params.vendorId);
				return { wasOnline: position !== null, cell: position?.cell ?? null };
			},
		},

		history: {
			params: { vendorId: "string|min:1|max:128" },
			handler(ctx: Context<HistoryParams>): Promise<StoredPosition[]> {
				return this.store.history(ctx.params.vendorId);
			},
		},

		/** GET /api/vendors/:id/location — public: the live position while online, else just `online: false`. */
		location: {
			rest: "GET /vendors/:id/location",
			params: { id: "string|min:1|max:128" },
			async handler(ctx: Context<LocationParams>) {
				await ctx.call("vendors.get", { id: ctx.params.id });
				const location = await this.store.get(ctx.params.id);
				return location?.online ? location : { vendorId: ctx.params.id, online: false };
			},
		},

		/** POST /api/vendors/:id/location — the owner's low-rate alternative to the socket. */
		report: {
			rest: "POST /vendors/:id/location",
			auth: "required",
			params: { id: "string|min:1|max:128", $$strict: false },
			async handler(ctx: Context<ReportParams>) {
				const { id, lat, lng, ts, acc, hdg, spd } = ctx.params;
				await ctx.call("vendors.authorizeBroadcast", { id });
				const now = Date.now();
				const minGapMs = 1000 / this.settings.config.positionMaxHz;
				if (now - (this.lastReport.get(id) ?? 0) < minGapMs) {
					throw new Errors.MoleculerClientError(`At most ${this.settings.config.positionMaxHz} positions per second`, 429, "RATE_LIMITED");
				}
				const result = await ctx.call<UpdateResult, UpdateParams>("geo.update", { vendorId: id, lat, lng, ts, acc, hdg, spd });
				this.lastReport.set(id, now);
				if (!result.applied) throw new Errors.MoleculerClientError("Position is older than the vendor's latest one", 409, "CONFLICT", { reason: "stale" });
				const { location, previous } = result;
				const { vendorId: _id, cell, online: _online, ...position } = location;
				await this.route(ctx, { vendorId: id, cell, position, previousCell: previous?.online ? previous.cell : null });
				return location;
			},
		},
	},

	methods: {
		/** Validates a position and indexes it (H3 cell at H3_RES). */
		checkItem(item: unknown, now: number): StoredPosition | InvalidPosition {
			if (typeof item !== "object" || item === null) return { applied: false, reason: "invalid", field: "positions", message: "each position must be an object" };
			const { vendorId } = item as UpdateParams;
			if (typeof vendorId !== "string" || vendorId.length === 0 || vendorId.length > 128) {
				return { applied: false, reason: "invalid", field: "vendorId", message: "vendorId must be a string of 1 to 128 characters" };
			}
			const { config } = this.settings;
			const check = checkPosition(item as PositionInput, now, config.vendorOfflineAfterS * 1000);
			if (!check.ok) return { applied: false, reason: "invalid", field: check.field, message: check.message };
			return { vendorId, ...check.position, cell: latLngToCell(check.position.lat, check.position.lng, config.h3Res) };
		},

		/** One position; one write per vendor at a time on this node. */
		writePosition(ctx: Context, params: UpdateParams, now: number): Promise<UpdateManyItemResult> {
			const position = this.checkItem(params, now);
			if ("reason" in position) return Promise.resolve(position);
			return this.serial(position.vendorId, () => this.applyOne(ctx, position));
		},

		/**
		 * A batch: the store applies it in one pass / round trip. A vendor with a write already
		 * running on this node (REST update, going offline) waits for it as `update` would, and
		 * later writes of the batch's vendors wait for the batch.
		 */
		async writeMany(ctx: Context, items: unknown[], now: number): Promise<UpdateManyItemResult[]> {
			const results = new Array<UpdateManyItemResult>(items.length);
			const direct: StoredPosition[] = [];
			const directAt: number[] = [];
			const running: Promise<unknown>[] = [];
			for (let i = 0; i < items.length; i++) {
				const position = this.checkItem(items[i], now);
				if ("reason" in position) results[i] = position;
				else if (this.chains.has(position.vendorId)) running.push(this.serial(position.vendorId, () => this.applyOne(ctx, position)).then(r => (results[i] = r)));
				else {
					direct.push(position);
					directAt.push(i);
				}
			}
			if (direct.length > 0) {
				const events: Promise<void>[] = [];
				const batch = this.store.applyMany(direct, Date.now(), HISTORY_LENGTH).then(applied => {
					for (let j = 0; j < direct.length; j++) results[directAt[j]!] = this.recordApplied(ctx, direct[j]!, applied[j]!, events);
					return Promise.all(events);
				});
				const tail = batch.then(noop, noop);
				for (const p of direct) this.chains.set(p.vendorId, tail);
				void tail.then(() => {
					for (const p of direct) if (this.chains.get(p.vendorId) === tail) this.chains.delete(p.vendorId);
				});
				running.push(batch);
			}
			await Promise.all(running);
			return results;
		},

		async applyOne(ctx: Context, position: StoredPosition): Promise<UpdateResult> {
			const events: Promise<void>[] = [];
			const result = this.recordApplied(ctx, position, await this.store.apply(position, Date.now(), HISTORY_LENGTH), events);
			await Promise.all(events);
			return result;
		},

		/** After a store write: `location.vendor_online` when it just came online (pushed to `events`), coalesced location events. */
		recordApplied(ctx: Context, position: StoredPosition, result: ApplyResult, events: Promise<void>[]): UpdateResult {
			if (!result.applied) return result;
			const { vendorId } = position;
			if (!result.previous?.online) {
				events.push(emitDomainEvent(this as never, ctx, "location.vendor_online", { vendorId, lat: position.lat, lng: position.lng, cell: position.cell, ts: position.ts }, { vendorId }));
			}
			this.dirty.set(vendorId, position);
			return { applied: true, location: { ...position, online: true }, previous: result.previous };
		},

		serial<T>(vendorId: string, task: () => Promise<T>): Promise<T> {
			const run = (this.chains.get(vendorId) ?? Promise.resolve()).then(task, task);
			const tail = run.catch(() => undefined);
			this.chains.set(vendorId, tail);
			void tail.then(() => {
				if (this.chains.get(vendorId) === tail) this.chains.delete(vendorId);
			});
			return run;
		},

		takeOffline(ctx: Context | null, vendorId: string, seenAtOrBefore?: number): Promise<StoredPosition | null> {
			return this.serial(vendorId, async () => {
				const position = await this.store.setOffline(vendorId, seenAtOrBefore);
				if (!position) return null;
				this.dirty.delete(vendorId);
				this.lastReport.delete(vendorId);
				await emitDomainEvent(this as never, ctx, "location.vendor_offline", { vendorId, cell: position.cell, lastTs: position.ts }, { vendorId });
				return position;
			});
		},

		/** Vendors silent for VENDOR_OFFLINE_AFTER_S go offline; watchers get `gone`. */
		async expireSilent(): Promise<void> {
			const cutoff = Date.now() - this.settings.config.vendorOfflineAfterS * 1000;
			const ids = await this.store.expired(cutoff, EXPIRY_BATCH);
			for (const vendorId of ids) {
				const position = await this.takeOffline(null, vendorId, cutoff);
				if (position) await this.route(null, { vendorId, cell: position.cell });
			}
		},

		flushLocationEvents(): void {
			const batch = [...this.dirty.values()];
			this.dirty.clear();
			for (const p of batch) {
				void emitDomainEvent(this as never, null, "location.vendor_location_updated", { vendorId: p.vendorId, lat: p.lat, lng: p.lng, cell: p.cell, ts: p.ts }, { vendorId: p.vendorId });
			}
		},

		/** Hands an update to the live gateways; a cluster without one simply has no watchers. */
		async route(ctx: Context | null, params: RouteParams): Promise<void> {
			try {
				await (ctx ? ctx.call("live.route", params) : this.broker.call("live.route", params));
			} catch (err) {
				if (!(err instanceof Errors.ServiceNotFoundError)) this.logger.warn({ err: (err as Error).message, vendorId: params.vendorId }, "Could not route a position to the live gateways");
			}
		},

		checkStore(): Promise<void> {
			return this.store.check();
		},
	},

	created() {
		const { config } = this.settings;
		this.store = config.redisUrl ? new RedisGeoStore(config.redisUrl, `${config.namespace}:geo:`) : new MemoryGeoStore(config.h3Res);
		this.chains = new Map();
		this.dirty = new Map();
		this.lastReport = new Map();
		this.timers = [];
	},

	started() {
		const sweepMs = Math.min(1_000, this.settings.config.vendorOfflineAfterS * 250);
		const sweep = setInterval(() => {
			this.expireSilent().catch(err => this.logger.warn({ err: (err as Error).message }, "Offline sweep failed"));
		}, sweepMs);
		const flush = setInterval(() => this.flushLocationEvents(), LOCATION_EVENT_EVERY_MS);
		this.timers.push(sweep, flush);
	},

	async stopped() {
		for (const t of this.timers) clearInterval(t);
		this.flushLocationEvents();
		await this.store.close();
	},
};

export default GeoService;
