import type { Logger } from "moleculer";
import type { Position } from "../../lib/position.ts";
import {
	changeOf,
	UPDATE_MANY_MAX,
	type PositionChange,
	type UpdateManyItemResult,
	type UpdateParams,
} from "../../services/geo/contract.ts";

/** What became of a position handed to the writer (each one gets exactly one). */
export type WriteOutcome =
	| { kind: "stored"; change: PositionChange }
	| { kind: "superseded" | "stale" | "failed" }
	/** geo refused it (e.g. the vendor's clock differs from ours): the vendor is told why. */
	| { kind: "invalid"; message: string };

export type WriterDeps = {
	/** Writes a batch (geo.updateMany): one result per position, in order. */
	write(batch: UpdateParams[]): Promise<UpdateManyItemResult[]>;
	onOutcome(vendorId: string, outcome: WriteOutcome): void;
	logger: Logger;
};

/**
 * Group commit of vendor positions. The vendor sessions of this node stay the single writer per
 * vendor, but instead of one geo call per position, the positions that arrived in one event-loop
 * turn go to geo in ONE batch, and the next batch leaves as soon as that one returns (one batch
 * in flight per node). A vendor has at most one position in flight and one waiting: a newer frame
 * replaces the waiting one (latest wins; the replaced one is `superseded`).
 */
export class PositionWriter {
	readonly #deps: WriterDeps;
	/** Vendor → its latest position not yet sent to geo (insertion order = arrival order). */
	readonly #waiting = new Map<string, Position>();
	/** Vendors of the batch in flight. */
	#inFlight: readonly string[] = [];
	#running = false;
	/** Callbacks for vendors whose writes must finish first (socket closed: offline comes after). */
	readonly #settled = new Map<string, (() => void)[]>();

	constructor(deps: WriterDeps) {
		this.#deps = deps;
	}

	/** Queues a vendor's accepted position for the next batch. */
	enqueue(vendorId: string, position: Position): void {
		if (this.#waiting.has(vendorId)) this.#deps.onOutcome(vendorId, { kind: "superseded" });
		this.#waiting.set(vendorId, position);
		if (this.#running) return;
		this.#running = true;
		// setImmediate runs after uWS has handled every frame of this loop turn: they form one batch.
		setImmediate(() => void this.#run());
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
			try {
				await this.#write(batch);
			} catch (err) {
				this.#deps.logger.error({ err: (err as Error).message }, "Position batch results could not be streamed");
			}
			this.#inFlight = [];
			if (this.#settled.size > 0) this.#notifySettled();
		}
		this.#running = false;
	}

	async #write(batch: UpdateParams[]): Promise<void> {
		const { write, onOutcome, logger } = this.#deps;
		let results: UpdateManyItemResult[];
		try {
			results = await write(batch);
		} catch (err) {
			logger.warn({ err: (err as Error).message, positions: batch.length }, "Position batch write failed");
			for (const p of batch) onOutcome(p.vendorId, { kind: "failed" });
			return;
		}
		batch.forEach(({ vendorId }, i) => {
			const result = results[i]!;
			if (result.applied) onOutcome(vendorId, { kind: "stored", change: changeOf(result) });
			else if (result.reason === "invalid") onOutcome(vendorId, { kind: "invalid", message: result.message });
			else onOutcome(vendorId, { kind: "stale" });
		});
	}

	#notifySettled(): void {
		for (const [vendorId, waiters] of this.#settled) {
			if (this.#waiting.has(vendorId)) continue;
			this.#settled.delete(vendorId);
			for (const resolve of waiters) resolve();
		}
	}
}
