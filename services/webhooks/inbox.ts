import type { Context, Logger } from "moleculer";
import { conflict, notFound, unavailable } from "../../lib/errors.ts";
import type { Store } from "../../mixins/db.mixin.ts";
import type { SubscriptionState } from "../vendors/contract.ts";
import type { InboxEntry, InboxParams, WebhookSource } from "./contract.ts";

export type InboxDoc = Omit<InboxEntry, "id"> & { _id: string; lockedUntil: number };
export type Applied = Record<string, unknown>;
/** One owner whose subscription an event set, kept in the inbox entry's result. */
export type OwnerChange = { userId: string; subscription: SubscriptionState; vendorIds: string[] };

/** One node owns an event while applying it; a crashed owner's claim lapses after this. */
const APPLY_LEASE_MS = 60_000;
const HISTORY_KEPT = 20;

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
	 * Claims the event (so no two nodes apply it at once), applies it and records the outcome.
	 * A failure is recorded and answered with 503 so the sender retries.
	 */
	async apply(
		ctx: Context,
		id: string,
		force: boolean,
		applyEvent: (ctx: Context, doc: InboxDoc) => Promise<Applied>
	): Promise<{ doc: InboxDoc; duplicate: boolean }> {
		const current: InboxDoc | null = await this.#store.findOne({ _id: id });
		if (!current) throw notFound(`No recorded webhook event ${id}`, { id });
		if (current.status === "applied" && !force) return { doc: current, duplicate: true };

		const now = Date.now();
		const claimed = await this.#store.updateMany(
			{ _id: id, lockedUntil: { $lt: now }, ...(force ? {} : { status: { $ne: "applied" } }) },
			{ $set: { lockedUntil: now + APPLY_LEASE_MS }, $inc: { attempts: 1 } }
		);
		if (claimed === 0) {
			const latest: InboxDoc | null = await this.#store.findOne({ _id: id });
			if (latest?.status === "applied" && !force) return { doc: latest, duplicate: true };
			throw conflict("This event is being applied by another node; retry later", { id }, "WEBHOOK_IN_PROGRESS");
		}

		const at = new Date().toISOString();
		try {
			const result = await applyEvent(ctx, current);
			await this.#finish(id, { status: "applied", appliedAt: at, error: null, result }, { at, outcome: "applied" });
		} catch (err) {
			const message = (err as Error).message || String(err);
			this.#logger.warn({ webhook: id, err: message }, "Applying a webhook event failed; the sender will retry");
			await this.#finish(id, { status: "failed", error: message }, { at, outcome: "failed", error: message });
			throw unavailable("The event is recorded but could not be applied; retry later", "WEBHOOK_APPLY_FAILED", { id, error: message });
		}
		return { doc: (await this.#store.findOne({ _id: id })) as InboxDoc, duplicate: false };
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
