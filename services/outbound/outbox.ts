import type { Logger } from "moleculer";
import type { DeliveryLog } from "./deliveries.ts";
import type { Dispatcher } from "./dispatch.ts";

/** How a delivery reaches its attempts: the embedded outbox or JetStream. */
export interface DeliveryQueue {
	start(): Promise<void>;
	/** Called once the delivery is recorded in the log. */
	enqueue(id: string): Promise<void>;
	/** Called once a dead delivery is back to pending in the log. */
	replay(id: string): Promise<void>;
	stop(): Promise<void>;
}

/** The outbox is looked at this often (and at once after each new delivery). */
const SCAN_MS = 1_000;
/** Due deliveries taken per scan. */
const BATCH = 50;

/**
 * The embedded queue: the delivery log itself (NeDB under DATA_DIR, or Mongo) is the outbox. A
 * delivery is recorded before anything is sent, so a restart finds every pending one, scanned on
 * start and each second; a sender holds a due delivery with a lease, so two senders on one Mongo
 * never send it at once, and one that crashed mid-attempt lets it go after the lease.
 */
export class Outbox implements DeliveryQueue {
	readonly #log: DeliveryLog;
	readonly #dispatcher: Dispatcher;
	readonly #leaseMs: number;
	readonly #logger: Logger;
	readonly #inFlight = new Set<Promise<void>>();
	#timer: NodeJS.Timeout | undefined;
	#scanning: Promise<void> | null = null;
	#again = false;
	#stopped = false;

	constructor(log: DeliveryLog, dispatcher: Dispatcher, timeoutMs: number, logger: Logger) {
		this.#log = log;
		this.#dispatcher = dispatcher;
		this.#leaseMs = timeoutMs + 5_000;
		this.#logger = logger;
	}

	async start(): Promise<void> {
		this.#timer = setInterval(() => this.#kick(), SCAN_MS);
		this.#kick();
	}

	async enqueue(): Promise<void> {
		this.#kick();
	}

	async replay(): Promise<void> {
		this.#kick();
	}

	async stop(): Promise<void> {
		this.#stopped = true;
		clearInterval(this.#timer);
		await this.#scanning;
		await Promise.all(this.#inFlight);
	}

	/** One scan at a time; a kick during a scan runs another right after it. */
	#kick(): void {
		if (this.#stopped) return;
		if (this.#scanning) {
			this.#again = true;
			return;
		}
		this.#scanning = this.#scan()
			.catch(err => this.#logger.warn({ err: (err as Error).message }, "Outbox scan failed; next scan retries"))
			.finally(() => {
				this.#scanning = null;
				if (this.#again) {
					this.#again = false;
					this.#kick();
				}
			});
	}

	async #scan(): Promise<void> {
		const now = Date.now();
		for (const doc of await this.#log.due(now, BATCH)) {
			if (this.#stopped || !(await this.#log.claim(doc._id, now, this.#leaseMs))) continue;
			const run = this.#dispatcher
				.attempt(doc, doc.attempts + 1)
				.then(() => undefined)
				.catch(err =>
					this.#logger.warn(
						{ delivery: doc._id, err: (err as Error).message },
						"Outbound attempt failed to run; the lease lapses and it is retried"
					)
				)
				.finally(() => this.#inFlight.delete(run));
			this.#inFlight.add(run);
		}
	}
}
