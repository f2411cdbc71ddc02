import { createHash } from "node:crypto";
import type { IndexSpec, Store } from "../../mixins/db.mixin.ts";
import type { Delivery, DeliveriesParams, DeliveryStatus } from "./contract.ts";

/** A delivery as stored: the body it sends (the signed JSON), when it is due and who holds it. */
export type DeliveryDoc = Omit<Delivery, "id"> & {
	_id: string;
	body: string;
	/** `nextAttemptAt` in ms, what the outbox queries; null once delivered or dead. */
	nextAttemptMs: number | null;
	/** An embedded sender holds a due delivery until then while it sends it (a crashed holder's lease lapses). */
	lockedUntil: number;
};

export const DELIVERY_INDEXES: IndexSpec[] = [{ fields: { status: 1 } }, { fields: { nextAttemptMs: 1 } }, { fields: { endpointId: 1 } }];

/** The idempotency id (`webhook-id`): the same for an event and an endpoint however often it is sent. */
export const deliveryId = (eventId: string, endpointId: string) =>
	`msg_${createHash("sha256").update(`${eventId}:${endpointId}`).digest("base64url").slice(0, 27)}`;

export function toDelivery(doc: DeliveryDoc): Delivery {
	const { _id, body: _body, nextAttemptMs: _next, lockedUntil: _lease, ...rest } = doc;
	return { id: _id, ...rest };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The record of every delivery: in the embedded mode it is the outbox itself (pending ones with
 * their next attempt time, scanned by outbox.ts); with NATS it is what operators list, and the
 * queue is JetStream's (jetstream.ts).
 */
export class DeliveryLog {
	readonly store: Store;

	constructor(store: Store) {
		this.store = store;
	}

	/** Records a new delivery, due now; false when it was recorded before (the same event seen again). */
	async record(fields: Pick<DeliveryDoc, "_id" | "endpointId" | "event" | "eventId" | "eventAt" | "body">): Promise<boolean> {
		const now = Date.now();
		const doc: DeliveryDoc = {
			...fields,
			status: "pending",
			attempts: 0,
			nextAttemptAt: iso(now),
			nextAttemptMs: now,
			lastStatus: null,
			lastError: null,
			createdAt: iso(now)!,
			deliveredAt: null,
			lockedUntil: 0,
		};
		try {
			await this.store.insert(doc);
			return true;
		} catch (err) {
			if (!(await this.store.findOne({ _id: doc._id }))) throw err;
			return false;
		}
	}

	get(id: string): Promise<DeliveryDoc | null> {
		return this.store.findOne<DeliveryDoc>({ _id: id });
	}

	delivered(id: string, attempts: number): Promise<number> {
		return this.#set(id, { status: "delivered", attempts, deliveredAt: iso(Date.now()), nextAttemptAt: null, nextAttemptMs: null });
	}

	/** A failed attempt: due again in `retryInMs`, or dead when null. */
	failed(id: string, attempts: number, failure: { status: number | null; error: string }, retryInMs: number | null): Promise<number> {
		const next = retryInMs === null ? null : Date.now() + retryInMs;
		const status: DeliveryStatus = next === null ? "dead" : "retrying";
		return this.#set(id, {
			status,
			attempts,
			lastStatus: failure.status,
			lastError: failure.error,
			nextAttemptAt: iso(next),
			nextAttemptMs: next,
		});
	}

	/** Back to pending, due now, attempts counted afresh (the `webhook-id` stays). */
	requeue(id: string): Promise<number> {
		const now = Date.now();
		return this.store.updateMany(
			{ _id: id, status: "dead" },
			{ $set: { status: "pending", attempts: 0, nextAttemptAt: iso(now), nextAttemptMs: now, lockedUntil: 0 } }
		);
	}

	/** Due deliveries (embedded outbox): pending or retrying, next attempt passed, nobody holding them. */
	due(now: number, limit: number): Promise<DeliveryDoc[]> {
		return this.store.find<DeliveryDoc>({
			query: { status: { $in: ["pending", "retrying"] }, nextAttemptMs: { $lte: now }, lockedUntil: { $lt: now } },
			sort: ["nextAttemptMs"],
			limit,
		});
	}

	/** Takes a due delivery for `leaseMs` and counts the attempt; false when another sender took it first. */
	async claim(id: string, now: number, leaseMs: number): Promise<boolean> {
		const taken = await this.store.updateMany(
			{ _id: id, lockedUntil: { $lt: now } },
			{ $set: { lockedUntil: now + leaseMs }, $inc: { attempts: 1 } }
		);
		return taken === 1;
	}

	async list(params: DeliveriesParams, limit: number): Promise<Delivery[]> {
		const query: Record<string, unknown> = {};
		if (params.status) query.status = params.status;
		if (params.endpointId) query.endpointId = params.endpointId;
		const docs = await this.store.find<DeliveryDoc>({ query, sort: ["-createdAt"], limit });
		return docs.map(toDelivery);
	}

	#set(id: string, set: Partial<DeliveryDoc>): Promise<number> {
		return this.store.updateMany({ _id: id }, { $set: { ...set, lockedUntil: 0 } });
	}
}
