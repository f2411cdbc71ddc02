import { getResolution, isValidCell, latLngToCell } from "h3-js";
import type { Context } from "moleculer";
import type { DomainEventName } from "../../lib/events.ts";
import { isVendorId } from "../../lib/ids.ts";
import { KeyedQueue } from "../../lib/keyed-queue.ts";
import { checkPosition, type PositionInput } from "../../lib/position.ts";
import {
	HISTORY_LENGTH,
	type InvalidPosition,
	type StoredPosition,
	type UpdateManyItemResult,
	type UpdateResult,
	type VendorOffline,
} from "./contract.ts";
import type { ApplyResult, GeoStore } from "./store.ts";

export type Emit = (ctx: Context | null, name: DomainEventName, data: object, context: { vendorId: string }) => Promise<void>;

export type GeoWriterOptions = {
	store: GeoStore;
	/** H3 resolution of the positions' cells (H3_RES). */
	h3Res: number;
	/** A position older than this is not live (VENDOR_OFFLINE_AFTER_S). */
	maxAgeMs: number;
	emit: Emit;
	/** Tests every accepted position against the alerts' fences and ends a vendor's stays when it goes offline. */
	fences: PositionWatcher;
};

/** What the writer hands accepted positions and offline vendors to (the fence evaluator); it never fails a write. */
export type PositionWatcher = {
	/** Undefined when nothing was to be tested (no promise on the hot path). */
	evaluate(ctx: Context | null, position: StoredPosition): Promise<void> | undefined;
	offline(vendorId: string, lastTs: number): Promise<void>;
};

/**
 * Every write of the geo service: positions (one, or a batch from a live gateway) and taking
 * vendors offline. One write per vendor at a time on this node, in arrival order; the store
 * makes each write atomic across nodes. It emits `location.vendor_online` and
 * `location.vendor_offline` as the writes decide them, and coalesces
 * `location.vendor_location_updated` until `flushLocationEvents`. Every accepted position goes
 * to the fence evaluator before the write answers (so a vendor's positions are tested in order).
 */
export class GeoWriter {
	readonly #opts: GeoWriterOptions;
	readonly #queue = new KeyedQueue();
	/** Latest accepted position per vendor since the last location.vendor_location_updated flush. */
	readonly #dirty = new Map<string, StoredPosition>();

	constructor(opts: GeoWriterOptions) {
		this.#opts = opts;
	}

	/**
	 * Validates a position and indexes it: its H3 cell at H3_RES, or (a live gateway's batch) the
	 * cell the live node computed for it when `takeCell` (if it is a cell at H3_RES: the Redis
	 * store shards by it).
	 */
	check(item: unknown, now: number, takeCell = false): StoredPosition | InvalidPosition {
		if (typeof item !== "object" || item === null) return invalid("positions", "each position must be an object");
		const { vendorId, cell } = item as { vendorId?: unknown; cell?: unknown };
		if (!isVendorId(vendorId)) return invalid("vendorId", "vendorId must be a vendor id");
		const check = checkPosition(item as PositionInput, now, this.#opts.maxAgeMs);
		if (!check.ok) return invalid(check.field, check.message);
		const { lat, lng } = check.position;
		const given = takeCell && typeof cell === "string" && isValidCell(cell) && getResolution(cell) === this.#opts.h3Res;
		return { vendorId, ...check.position, cell: given ? cell : latLngToCell(lat, lng, this.#opts.h3Res) };
	}

	/** One position, after the vendor's writes already running on this node. */
	writeOne(ctx: Context, item: unknown, now: number): Promise<UpdateManyItemResult> {
		const position = this.check(item, now);
		if ("reason" in position) return Promise.resolve(position);
		return this.#queue.run(position.vendorId, () => this.#applyOne(ctx, position));
	}

	/**
	 * A batch in one store pass / round trip. A vendor with a write already running on this node
	 * waits for it as `writeOne` would; later writes of the batch's vendors wait for the batch.
	 */
	async writeMany(ctx: Context, items: readonly unknown[], now: number): Promise<UpdateManyItemResult[]> {
		const results = new Array<UpdateManyItemResult>(items.length);
		const direct: StoredPosition[] = [];
		const directAt: number[] = [];
		const running: Promise<unknown>[] = [];
		items.forEach((item, i) => {
			const position = this.check(item, now, true);
			if ("reason" in position) results[i] = position;
			else if (this.#queue.busy(position.vendorId))
				running.push(this.#queue.run(position.vendorId, () => this.#applyOne(ctx, position)).then(r => (results[i] = r)));
			else {
				direct.push(position);
				directAt.push(i);
			}
		});
		if (direct.length > 0) {
			const batch = this.#queue.runNow(
				direct.map(p => p.vendorId),
				async () => {
					const applied = await this.#opts.store.applyMany(direct, Date.now(), HISTORY_LENGTH);
					const events: Promise<void>[] = [];
					direct.forEach((p, j) => {
						results[directAt[j]!] = this.#record(ctx, p, applied[j]!, events);
					});
					await Promise.all(events);
				}
			);
			running.push(batch);
		}
		await Promise.all(running);
		return results;
	}

	/**
	 * Takes a vendor offline (only if last seen at or before `seenAtOrBefore`, when given) and
	 * announces it: `location.vendor_offline`, which the live gateways turn into `gone`.
	 */
	takeOffline(ctx: Context | null, vendorId: string, seenAtOrBefore?: number): Promise<StoredPosition | null> {
		return this.#queue.run(vendorId, async () => {
			const position = await this.#opts.store.setOffline(vendorId, seenAtOrBefore);
			if (!position) return null;
			this.#dirty.delete(vendorId);
			const data: VendorOffline = { vendorId, cell: position.cell, lastTs: position.ts };
			await this.#opts.emit(ctx, "location.vendor_offline", data, { vendorId });
			await this.#opts.fences.offline(vendorId, position.ts);
			return position;
		});
	}

	/** Vendors silent since `cutoff` go offline (at most `limit` per call). */
	async expireSilent(cutoff: number, limit: number): Promise<void> {
		for (const vendorId of await this.#opts.store.expired(cutoff, limit)) await this.takeOffline(null, vendorId, cutoff);
	}

	/** One `location.vendor_location_updated` per vendor that moved since the last flush. */
	flushLocationEvents(): void {
		const batch = [...this.#dirty.values()];
		this.#dirty.clear();
		for (const p of batch) {
			void this.#opts.emit(
				null,
				"location.vendor_location_updated",
				{ vendorId: p.vendorId, lat: p.lat, lng: p.lng, cell: p.cell, ts: p.ts },
				{ vendorId: p.vendorId }
			);
		}
	}

	async #applyOne(ctx: Context, position: StoredPosition): Promise<UpdateResult> {
		const events: Promise<void>[] = [];
		const result = this.#record(ctx, position, await this.#opts.store.apply(position, Date.now(), HISTORY_LENGTH), events);
		await Promise.all(events);
		return result;
	}

	/** After a store write: `location.vendor_online` when it just came online (pushed to `events`). */
	#record(ctx: Context, position: StoredPosition, result: ApplyResult, events: Promise<void>[]): UpdateResult {
		if (!result.applied) return result;
		const { vendorId } = position;
		if (!result.previous?.online) {
			events.push(
				this.#opts.emit(
					ctx,
					"location.vendor_online",
					{ vendorId, lat: position.lat, lng: position.lng, cell: position.cell, ts: position.ts },
					{ vendorId }
				)
			);
		}
		this.#dirty.set(vendorId, position);
		const evaluated = this.#opts.fences.evaluate(ctx, position);
		if (evaluated) events.push(evaluated);
		return { applied: true, location: { ...position, online: true }, previous: result.previous };
	}
}

const invalid = (field: string, message: string): InvalidPosition => ({ applied: false, reason: "invalid", field, message });
