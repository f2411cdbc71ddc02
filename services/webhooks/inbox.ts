import type { Context, Logger } from "moleculer";
import { conflict, notFound, unavailable } from "../../lib/errors.ts";
import type { Store } from "../../mixins/db.mixin.ts";
import type { SubscriptionState } from "../vendors/contract.ts";
import {
	INBOX_REASONS,
	OUTCOMES,
	type InboxEntry,
	type InboxParams,
	type InboxReason,
	type Outcome,
	type WebhookSource,
} from "./contract.ts";

export type InboxDoc = Omit<InboxEntry, "id"> & { _id: string; lockedUntil: number };
/** An event that was applied, found stale or ignored: what a 2xx answer reports. */
export type SettledDoc = InboxDoc & { status: Outcome };
/** What applying an event came to. */
export type Settled = { status: Outcome; reason: InboxReason | null; result: Record<string, unknown> | null };
/** One owner whose subscription an event set, kept in the inbox entry's result. */
export type OwnerChange = { userId: string; subscription: SubscriptionState; vendorIds: string[] };

/** One node owns an event while applying it; a crashed owner's claim lapses after this. */
const APPLY_LEASE_MS = 60_000;
const HISTORY_KEPT = 20;

const inProgress = (id: string) => conflict("This event is being applied by another node; retry later", { id }, "WEBHOOK_IN_PROGRESS");

export const applied = (result: Record<string, unknown>): Settled => ({ status: "applied", reason: null, result });
/** Nothing changed, for `reason` (which also gives the outcome: stale or ignored). */
export const skipped = (reason: InboxReason, result: Record<string, unknown> | null = null): Settled => ({
	status: INBOX_REASONS[reason],
	reason,
	result,
});

const isSettled = (doc: InboxDoc): doc is SettledDoc => (OUTCOMES as readonly string[]).includes(doc.status);

export function toEntry(doc: InboxDoc): InboxEntry {
	const { _id, lockedUntil: _lease, ...rest } = doc;
	return { id: _id, ...rest };
}

/**
 * The webhook inbox: every verified event is recorded before it is applied, once per id; a
 * claim in the store (a lease) keeps two nodes from applying one event at once; the outcome
 * and its history are recorded.
 */
export class WebhookInbox {
	readonly #store: Store;
	readonly #logger: Logger;

	constructor(store: Store, logger: Logger) {
		this.#store = store;
		this.#logger = logger;
	}

	/** Records the event unless it is recorded already; true when this call recorded it. */
	async record(source: WebhookSource, eventId: string, type: string, payload: string): Promise<boolean> {
		const doc: InboxDoc = {
			_id: `${source}:${eventId}`,
			source,
			eventId,
			type,
			payload,
			status: "received",
			reason: null,
			attempts: 0,
			error: null,
			result: null,
			history: [],
			receivedAt: new Date().toISOString(),
			appliedAt: null,
			lockedUntil: 0,
		};
		try {
			await this.#store.insert(doc);
			return true;
		} catch (err) {
			// The store's unique _id refused it: another delivery recorded it first.
			if (!(await this.#store.findOne({ _id: doc._id }))) throw err;
			return false;
		}
	}

	/**
	 * Claims the event (so no two nodes apply it at once), applies it and records the outcome; one
	 * settled already (applied, stale or ignored) is a duplicate unless `force`. A failure is
	 * recorded and answered with 503 so the sender retries.
	 */
	async apply(
		ctx: Context,
		id: string,
		force: boolean,
		applyEvent: (ctx: Context, doc: InboxDoc) => Promise<Settled>
	): Promise<{ doc: SettledDoc; duplicate: boolean }> {
		const current: InboxDoc | null = await this.#store.findOne({ _id: id });
		if (!current) throw notFound(`No recorded webhook event ${id}`, { id });
		if (isSettled(current) && !force) return { doc: current, duplicate: true };

		const now = Date.now();
		const claimed = await this.#store.updateMany(
			{ _id: id, lockedUntil: { $lt: now }, ...(force ? {} : { status: { $nin: [...OUTCOMES] } }) },
			{ $set: { lockedUntil: now + APPLY_LEASE_MS }, $inc: { attempts: 1 } }
		);
		if (claimed === 0) {
			const latest: InboxDoc | null = await this.#store.findOne({ _id: id });
			if (latest && isSettled(latest) && !force) return { doc: latest, duplicate: true };
			throw inProgress(id);
		}

		const at = new Date().toISOString();
		try {
			const { status, reason, result } = await applyEvent(ctx, current);
			const entry = { at, outcome: status, ...(reason ? { reason } : {}) };
			await this.#finish(id, { status, reason, result, appliedAt: at, error: null }, entry);
		} catch (err) {
			const message = (err as Error).message || String(err);
			this.#logger.warn({ requestId: ctx.requestID, webhook: id, err: message }, "Applying a webhook event failed; the sender will retry");
			await this.#finish(id, { status: "failed", reason: null, error: message }, { at, outcome: "failed", error: message });
			throw unavailable("The event is recorded but could not be applied; retry later", "WEBHOOK_APPLY_FAILED", { id, error: message });
		}
		const settled: InboxDoc | null = await this.#store.findOne({ _id: id });
		// Unsettled only if a forced replay claimed it in between and failed.
		if (!settled || !isSettled(settled)) throw inProgress(id);
		return { doc: settled, duplicate: false };
	}

	/** Recorded events, newest first. */
	async list(params: InboxParams, limit: number): Promise<InboxEntry[]> {
		const query: Record<string, unknown> = {};
		if (params.status) query.status = params.status;
		if (params.source) query.source = params.source;
		const docs: InboxDoc[] = await this.#store.find({ query, sort: ["-receivedAt"], limit });
		return docs.map(toEntry);
	}

	/**
	 * The newest subscription state this inbox applied to `userId` (other than by event
	 * `exceptId`), with an expiry that has passed since then taken into account.
	 */
	async heldSubscription(userId: string, exceptId: string): Promise<SubscriptionState | null> {
		const docs: InboxDoc[] = await this.#store.find({
			query: { source: "revenuecat", status: "applied", "result.owners.userId": userId, _id: { $ne: exceptId } },
		});
		let newest: SubscriptionState | null = null;
		for (const doc of docs) {
			for (const change of (doc.result?.owners as OwnerChange[] | undefined) ?? []) {
				if (change.userId === userId && (!newest || (change.subscription.updatedAt ?? "") > (newest.updatedAt ?? "")))
					newest = change.subscription;
			}
		}
		if (!newest) return null;
		const lapsed = newest.expiresAt !== null && Date.parse(newest.expiresAt) <= Date.now();
		return lapsed ? { ...newest, active: false, entitlements: [] } : newest;
	}

	#finish(id: string, set: Partial<InboxDoc>, entry: InboxDoc["history"][number]): Promise<number> {
		return this.#store.updateMany(
			{ _id: id },
			{ $set: { ...set, lockedUntil: 0 }, $push: { history: { $each: [entry], $slice: -HISTORY_KEPT } } }
		);
	}
}
