import type { Context } from "moleculer";
import { notFound } from "../../lib/errors.ts";
import { emitDomainEvent, type EventSource } from "../../lib/events.ts";
import type { CallerMeta } from "../../lib/identity.ts";
import type { KeyedQueue } from "../../lib/keyed-queue.ts";
import type { Store } from "../../mixins/db.mixin.ts";
import type { Page, VendorStatusChanged } from "./contract.ts";
import { canBroadcast } from "./contract.ts";
import { fromDoc, publicQuery, type VendorDoc } from "./model.ts";

export type FindOptions = { sort?: string[]; limit?: number; offset?: number };

/**
 * The vendors collection as the service reads and writes it: live (not deleted) documents,
 * writes that stamp `updatedAt` and clean the cache, and pages with their totals.
 */
export class VendorRecords {
	readonly #store: Store;
	readonly #clearCache: () => Promise<void>;
	readonly #requireSubscription: boolean;

	constructor(store: Store, clearCache: () => Promise<void>, requireSubscription: boolean) {
		this.#store = store;
		this.#clearCache = clearCache;
		this.#requireSubscription = requireSubscription;
	}

	async find(id: string): Promise<VendorDoc | null> {
		const doc = await this.#store.findById(id);
		return doc ? fromDoc(doc) : null;
	}

	/** The vendor unless it does not exist or was deleted (404). */
	async live(id: string): Promise<VendorDoc> {
		const doc = await this.find(id);
		if (!doc || doc.deletedAt) throw notFound(`Vendor ${id} not found`, { id });
		return doc;
	}

	async findMany(query: object, opts: FindOptions = {}): Promise<VendorDoc[]> {
		return (await this.#store.find({ query, ...opts })).map(fromDoc);
	}

	async insert(doc: Omit<VendorDoc, "id"> & { _id: string }): Promise<VendorDoc> {
		const inserted = fromDoc(await this.#store.insert(doc));
		await this.#clearCache();
		return inserted;
	}

	/** `$set` with a fresh `updatedAt`, and the fields in `unset` removed. */
	async write(id: string, set: Partial<VendorDoc>, unset: readonly string[] = []): Promise<VendorDoc> {
		const update: Record<string, object> = { $set: { ...set, updatedAt: new Date().toISOString() } };
		if (unset.length > 0) update.$unset = Object.fromEntries(unset.map(field => [field, true]));
		const doc = await this.#store.updateById(id, update);
		await this.#clearCache();
		if (!doc) throw notFound(`Vendor ${id} not found`, { id });
		return fromDoc(doc);
	}

	/**
	 * `write` in one conditional update: only if the vendor also matches `condition` when the store
	 * applies it. The vendor as read afterwards, or null when it did not match.
	 */
	async writeIf(id: string, condition: object, set: Partial<VendorDoc>): Promise<VendorDoc | null> {
		const written = await this.#store.updateMany({ _id: id, ...condition }, { $set: { ...set, updatedAt: new Date().toISOString() } });
		if (written === 0) return null;
		await this.#clearCache();
		return this.find(id);
	}

	/** The query of vendors anyone may find now. */
	publicQuery(): Record<string, unknown> {
		return publicQuery(this.#requireSubscription);
	}

	canBroadcast(vendor: Parameters<typeof canBroadcast>[0]): boolean {
		return canBroadcast(vendor, this.#requireSubscription);
	}
}

/** When each vendor last reported over REST on this node (the low-rate path; sockets have their own limiter). */
export class ReportClock {
	readonly #last = new Map<string, number>();

	allows(vendorId: string, now: number, minGapMs: number): boolean {
		if (this.#last.size > 10_000) for (const [id, at] of this.#last) if (now - at >= minGapMs) this.#last.delete(id);
		return now - (this.#last.get(vendorId) ?? Number.NEGATIVE_INFINITY) >= minGapMs;
	}

	record(vendorId: string, now: number): void {
		this.#last.set(vendorId, now);
	}
}

/** What every part of the vendors service shares (set in its `created`/`started`). */
export type VendorsState = {
	records: VendorRecords;
	reviewStore: Store;
	subscriptionStore: Store;
	ratingQueue: KeyedQueue;
	reports: ReportClock;
};

/** One page of `query` in `sort` order, with the total count. */
export async function findPage<T>(
	store: Store,
	query: object,
	sort: string[],
	page: number,
	pageSize: number,
	map: (doc: Record<string, unknown>) => T
): Promise<Page<T>> {
	const [docs, total] = await Promise.all([
		store.find({ query, sort, limit: pageSize, offset: (page - 1) * pageSize }),
		store.count({ query }),
	]);
	return { rows: docs.map(map), total, page, pageSize, totalPages: Math.ceil(total / pageSize) };
}

/** `marketplace.vendor_status_changed`: the status, whether it may broadcast now, and who changed it. */
export function statusChanged(
	service: EventSource & VendorsState,
	ctx: Context,
	before: VendorDoc,
	after: VendorDoc,
	extra: Pick<VendorStatusChanged, "deleted" | "previousOwnerId"> = {}
): Promise<void> {
	const data: VendorStatusChanged = {
		id: after.id,
		ownerId: after.ownerId,
		status: after.status,
		previous: before.status,
		canBroadcast: !after.deletedAt && service.records.canBroadcast(after),
		// The audit trail: who made the change (null for the system, e.g. a webhook); the envelope says when.
		by: (ctx.meta as CallerMeta).user ?? null,
		...extra,
	};
	return emitDomainEvent(service, ctx, "marketplace.vendor_status_changed", data, { vendorId: after.id, userId: before.ownerId });
}
