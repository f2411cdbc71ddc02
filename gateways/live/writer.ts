import type { Logger } from "moleculer";
import type { Position } from "../../lib/position.ts";
import {
	changeOf,
	UPDATE_MANY_MAX,
	type PositionChange,
	type UpdateManyItemResult,
	type UpdateParams,
} from "../../services/geo/contract.ts";

/** What the store made of a position handed to the writer (each written position gets one). */
export type WriteOutcome =
	| { kind: "stored"; change: PositionChange }
	/** The store holds a newer position of the vendor (another node wrote it). */
	| { kind: "stale" }
	/** geo refused it (e.g. its clock differs from ours): the vendor is told why. */
	| { kind: "invalid"; message: string };

export type WriterDeps = {
	/** Writes a batch (geo.updateMany): one result per position, in order. */
	write(batch: UpdateParams[]): Promise<UpdateManyItemResult[]>;
	onOutcome(vendorId: string, outcome: WriteOutcome): void;
	logger: Logger;
};

/** After a failed batch the next one waits this long, doubling up to the maximum. */
export const RETRY_FIRST_MS = 100;
export const RETRY_MAX_MS = 2_000;

/**
 * Writes accepted vendor positions to geo behind the stream (watchers already have them). The
 * positions of one event-loop turn go in ONE batch, one batch in flight per node; a vendor keeps
 * only its latest position waiting (latest wins). A batch that fails is kept, latest per vendor,
 * and written again with backoff until geo takes it: nothing accepted is lost while geo is down.
 */
export class PositionWriter {
	readonly #deps: WriterDeps;
	/** Vendor → its latest position not yet written (insertion order = arrival order). */
	readonly #waiting = new Map<string, Position>();
	/** Vendors of the batch in flight. */
	#inFlight: readonly string[] = [];
	#running = false;
	#failures = 0;
	/** Callbacks for vendors whose writes must finish first (socket closed: offline comes after). */
	readonly #settled = new Map<string, (() => void)[]>();

	constructor(deps: WriterDeps) {
		this.#deps = deps;
	}

	/** Queues a vendor's accepted position for the next batch, replacing one still waiting. */
	enqueue(vendorId: string, position: Position): void {
		this.#waiting.set(vendorId, position);
		if (this.#running) return;
		this.#running = true;
		// setImmediate runs after uWS has handled every frame of this loop turn: they form one batch.
		setImmediate(() => void this.#run());
	}

	/** Positions accepted and not yet written (waiting or in flight). */
	get backlog(): number {
		return this.#waiting.size + this.#inFlight.length;
	}

	/** Resolves once the vendor has no position waiting or in flight. */
	settled(vendorId: string): Promise<void> {
		if (!this.#waiting.has(vendorId) && !this.#inFlight.includes(vendorId)) return Promise.resolve();
		return new Promise(resolve => {
			const waiters = this.#settled.get(vendorId);
			if (waiters) waiters.push(resolve);
			else this.#settled.set(vendorId, [resolve]);
		});
	}

	async #run(): Promise<void> {
		while (this.#waiting.size > 0) {
			const batch: UpdateParams[] = [];
			for (const [vendorId, position] of this.#waiting) {
				if (batch.length === UPDATE_MANY_MAX) break; // the action's cap; the rest go in the next batch
				batch.push({ vendorId, ...position });
				this.#waiting.delete(vendorId);
			}
			this.#inFlight = batch.map(p => p.vendorId);
			const written = await this.#write(batch).catch((err: Error) => {
				this.#deps.logger.error({ err: err.message }, "Position batch handling failed");
				return true;
			});
			this.#inFlight = [];
			if (this.#settled.size > 0) this.#notifySettled();
			if (!written) await new Promise(r => setTimeout(r, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.#failures - 1))));
		}
		this.#running = false;
	}

	/** One batch; false when geo did not take it (then it waits again, unless a newer position of the vendor came). */
	async #write(batch: UpdateParams[]): Promise<boolean> {
		const { write, onOutcome, logger } = this.#deps;
		let results: UpdateManyItemResult[];
		try {
			results = await write(batch);
		} catch (err) {
			this.#failures++;
			if (this.#failures === 1 || this.#failures % 10 === 0) {
				logger.warn(
					{ err: (err as Error).message, positions: batch.length, attempts: this.#failures },
					"Position batch not written yet; retrying"
				);
			}
			for (const { vendorId, ...position } of batch) if (!this.#waiting.has(vendorId)) this.#waiting.set(vendorId, position as Position);
			return false;
		}
		if (this.#failures > 0) logger.info({ attempts: this.#failures }, "Position batches written again");
		this.#failures = 0;
		batch.forEach(({ vendorId }, i) => {
			const result = results[i]!;
			try {
				if (result.applied) onOutcome(vendorId, { kind: "stored", change: changeOf(result) });
				else if (result.reason === "invalid") onOutcome(vendorId, { kind: "invalid", message: result.message });
				else onOutcome(vendorId, { kind: "stale" });
			} catch (err) {
				logger.error({ err: (err as Error).message, vendorId }, "A written position could not be handled");
			}
		});
		return true;
	}

	#notifySettled(): void {
		for (const [vendorId, waiters] of this.#settled) {
			if (this.#waiting.has(vendorId)) continue;
			this.#settled.delete(vendorId);
			for (const resolve of waiters) resolve();
		}
	}
}
