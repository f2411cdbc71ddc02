import type { Logger } from "moleculer";
import {
	AckPolicy,
	connect,
	nanos,
	RetentionPolicy,
	StorageType,
	type ConnectionOptions,
	type ConsumerMessages,
	type JetStreamClient,
	type JsMsg,
	type NatsConnection,
} from "nats";
import type { DeliveryLog } from "./deliveries.ts";
import type { Dispatcher, Work } from "./dispatch.ts";
import type { DeliveryQueue } from "./outbox.ts";

/** JetStream names under the NAMESPACE (stream names take no dots). */
export function jetStreamNames(namespace: string) {
	const ns = namespace.replace(/[^\w-]/g, "_");
	return {
		stream: `${ns}_outbound`,
		subject: `${ns}.outbound.deliveries`,
		deadStream: `${ns}_outbound_dead`,
		deadSubject: `${ns}.outbound.dead`,
		consumer: "outbound",
	};
}

export type JetStreamOptions = { connection: ConnectionOptions; namespace: string; timeoutMs: number; name: string };

/** Messages a sender holds at once (each one HTTP attempt at most). */
const MAX_IN_FLIGHT = 64;
/** How long one pull request waits for messages. */
const PULL_EXPIRES_MS = 5_000;
/** An attempt holds its message at most its timeout plus this (the store writes around the HTTP call). */
const ACK_MARGIN_MS = 10_000;
/** A failure of our own (the store down) before any answer: try again in this long. */
const INTERNAL_RETRY_MS = 5_000;

/**
 * The queue with NATS_URL: a durable work-queue stream, one durable consumer that every outbound
 * replica pulls from (a consumer group), explicit acks. A failed attempt is nak'ed with the delay
 * the retry schedule gives; after the last one the delivery is copied to the dead-letter stream and
 * acked. A sender that dies mid-attempt leaves the message unacked: JetStream hands it out again
 * after `ack_wait`, to whichever replica pulls next.
 */
export class JetStreamQueue implements DeliveryQueue {
	readonly #opts: JetStreamOptions;
	readonly #log: DeliveryLog;
	readonly #dispatcher: Dispatcher;
	readonly #logger: Logger;
	readonly #names: ReturnType<typeof jetStreamNames>;
	readonly #inFlight = new Set<Promise<void>>();
	/** Deliveries being attempted here: JetStream may hand out a message again while an attempt still runs (a redelivery after a crash, a nak racing an ack wait). */
	readonly #attempting = new Set<string>();
	#nc: NatsConnection | undefined;
	#js: JetStreamClient | undefined;
	#messages: ConsumerMessages | undefined;

	constructor(opts: JetStreamOptions, log: DeliveryLog, dispatcher: Dispatcher, logger: Logger) {
		this.#opts = opts;
		this.#log = log;
		this.#dispatcher = dispatcher;
		this.#logger = logger;
		this.#names = jetStreamNames(opts.namespace);
	}

	async start(): Promise<void> {
		const n = this.#names;
		this.#nc = await connect({ ...this.#opts.connection, name: this.#opts.name });
		const jsm = await this.#nc.jetstreamManager().catch((err: Error) => {
			throw new Error(`The outbound role needs JetStream on NATS_URL (nats-server -js): ${err.message}`);
		});
		const streams = [
			{ name: n.stream, subjects: [n.subject], retention: RetentionPolicy.Workqueue },
			{ name: n.deadStream, subjects: [n.deadSubject], retention: RetentionPolicy.Limits },
		];
		for (const stream of streams) {
			await jsm.streams.info(stream.name).catch(() => jsm.streams.add({ ...stream, storage: StorageType.File }));
		}
		await jsm.consumers.info(n.stream, n.consumer).catch(() =>
			jsm.consumers.add(n.stream, {
				durable_name: n.consumer,
				ack_policy: AckPolicy.Explicit,
				// Longer than one attempt may take; a message unacked this long is handed out again.
				ack_wait: nanos(this.#opts.timeoutMs + ACK_MARGIN_MS),
				max_ack_pending: 1_000,
			})
		);
		this.#js = this.#nc.jetstream();
		const consumer = await this.#js.consumers.get(n.stream, n.consumer);
		// Short pulls: a pull left open by a sender that died would take the redeliveries meant for the others until it expires.
		this.#messages = await consumer.consume({ max_messages: MAX_IN_FLIGHT, expires: PULL_EXPIRES_MS });
		void this.#pull(this.#messages);
	}

	/** Publishes a recorded delivery; JetStream drops a second publish of one id within its duplicate window. */
	enqueue(id: string): Promise<void> {
		return this.#publish(id, id);
	}

	/** A replay is a new message (a new JetStream id) of the same delivery (the same `webhook-id`). */
	replay(id: string): Promise<void> {
		return this.#publish(id, `${id}:replay:${Date.now()}`);
	}

	async #publish(id: string, msgID: string): Promise<void> {
		const doc = await this.#log.get(id);
		if (!doc) return;
		const work: Work = {
			_id: doc._id,
			endpointId: doc.endpointId,
			event: doc.event,
			eventId: doc.eventId,
			eventAt: doc.eventAt,
			body: doc.body,
		};
		await this.#js!.publish(this.#names.subject, JSON.stringify(work), { msgID });
	}

	async stop(): Promise<void> {
		this.#messages?.stop();
		await Promise.all(this.#inFlight);
		await this.#nc?.drain().catch(() => undefined);
	}

	async #pull(messages: ConsumerMessages): Promise<void> {
		for await (const msg of messages) {
			const run = this.#handle(msg).finally(() => this.#inFlight.delete(run));
			this.#inFlight.add(run);
		}
	}

	async #handle(msg: JsMsg): Promise<void> {
		let work: Work;
		try {
			work = msg.json<Work>();
		} catch {
			this.#logger.error({ seq: msg.seq }, "Unreadable outbound message dropped");
			msg.term();
			return;
		}
		// A second copy while the first is attempted comes back later: by then the record says delivered, or the attempt's own nak stands.
		if (this.#attempting.has(work._id)) return msg.nak(INTERNAL_RETRY_MS);
		this.#attempting.add(work._id);
		try {
			const next = await this.#dispatcher.attempt(work, msg.info.deliveryCount);
			if (next.kind === "retry") return msg.nak(next.retryInMs);
			if (next.kind === "dead") await this.#js!.publish(this.#names.deadSubject, JSON.stringify({ ...work, error: next.error }));
			msg.ack();
		} catch (err) {
			this.#logger.warn({ delivery: work._id, err: (err as Error).message }, "Outbound attempt failed to run; redelivering");
			msg.nak(INTERNAL_RETRY_MS);
		} finally {
			this.#attempting.delete(work._id);
		}
	}
}
