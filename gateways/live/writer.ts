import type { Logger } from "moleculer";
import type { Position } from "../../lib/position.ts";
import {
	changeOf,
	UPDATE_MANY_MAX,
	type PositionChange,
	type UpdateManyItemResult,
	type UpdateManyParams,
} from "../../services/geo/contract.ts";

/** What the store made of a position handed to the writer (each written position gets one). */
/** An accepted position with the cell this node streamed it in (geo keeps that cell). */
export type CellPosition = Position & { cell: string };

export type WriteOutcome =
	| { kind: "stored"; change: PositionChange }
	/** The store holds a newer position of the vendor (another node wrote it). */
	| { kind: "stale" }
	/** geo refused it (e.g. its clock differs from ours): the vendor is told why. */
	| { kind: "invalid"; message: string };

export type WriterDeps = {
	/** Writes a batch (geo.updateMany): one result per position, in order. */
	write(batch: UpdateManyParams["positions"]): Promise<UpdateManyItemResult[]>;
	onOutcome(vendorId: string, outcome: WriteOutcome): void;
	logger: Logger;
	/** How long positions gather before a batch goes (0: the end of the loop turn). */
	windowMs: number;
};

/**
 * The writer's window: watchers already have a position when it is accepted, so the store may
 * lag a little; gathering 25 ms of positions makes one geo call carry dozens of them at everyday
 * rates (one position per loop turn would otherwise cost a whole call each).
 */
export const WRITE_WINDOW_MS = 25;

/** After a failed batch the next one waits this long, doubling up to the maximum. */
export const RETRY_FIRST_MS = 100;
export const RETRY_MAX_MS = 2_000;

/**
 * Writes accepted vendor positions to geo behind the stream (watchers already have them). The
 * positions of one window go in ONE batch, one batch in flight per node; a vendor keeps only its
 * latest position waiting (latest wins). A batch that fails is kept, latest per vendor,
 * and written again with backoff until geo takes it: nothing accepted is lost while geo is down.
 */
export class PositionWriter {
	readonly #deps: WriterDeps;
	/** Vendor → its latest position not yet written (insertion order = arrival order). */
	readonly #waiting = new Map<string, CellPosition>();
	/** Vendors of the batch in flight. */
	#inFlight: UpdateManyParams["positions"] = [];
	#running = false;
	#failures = 0;
	/** Callbacks for vendors whose writes must finish first (socket closed: offline comes after). */
	readonly #settled = new Map<string, (() => void)[]>();

	constructor(deps: WriterDeps) {
		this.#deps = deps;
	}

	/** Queues a vendor's accepted position for the next batch, replacing one still waiting. */
	enqueue(vendorId: string, position: CellPosition): void {
		this.#waiting.set(vendorId, position);
		if (this.#running) return;
		this.#running = true;
		this.#afterWindow(Date.now()).then(() => this.#run());
	}

	/** Resolves when the window opened at `opened` has passed (window 0: after this loop turn's frames). */
	#afterWindow(opened: number): Promise<void> {
		const left = opened + this.#deps.windowMs - Date.now();
		return new Promise(resolve => (left > 0 ? setTimeout(resolve, left) : setImmediate(resolve)));
	}

	/** Positions accepted and not yet written (waiting or in flight). */
	get backlog(): number {
		return this.#waiting.size + this.#inFlight.length;
	}

	/** The positions accepted and not yet in the store (waiting, then in flight): what a snapshot read may miss. */
	*unwritten(): Iterable<[vendorId: string, position: CellPosition]> {
		yield* this.#waiting;
		for (const { vendorId, ...position } of this.#inFlight) yield [vendorId, position as CellPosition];
	}

	/** Resolves once the vendor has no position waiting or in flight. */
	settled(vendorId: string): Promise<void> {
		if (!this.#waiting.has(vendorId) && !this.#inFlight.some(p => p.vendorId === vendorId)) return Promise.resolve();
		return new Promise(resolve => {
			const waiters = this.#settled.get(vendorId);
			if (waiters) waiters.push(resolve);
			else this.#settled.set(vendorId, [resolve]);
		});
	}

	async #run(): Promise<void> {
		while (this.#waiting.size > 0) {
			const opened = Date.now();
			const batch: UpdateManyParams["positions"] = [];
			for (const [vendorId, position] of this.#waiting) {
				if (batch.length === UPDATE_MANY_MAX) break; // the action's cap; the rest go in the next batch
				batch.push({ vendorId, ...position });
				this.#waiting.delete(vendorId);
			}
			this.#inFlight = batch;
			const written = await this.#write(batch).catch((err: Error) => {
				this.#deps.logger.error({ err: err.message }, "Position batch handling failed");
				return true;
			});
			this.#inFlight = [];
			if (this.#settled.size > 0) this.#notifySettled();
			if (!written) await new Promise(r => setTimeout(r, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.#failures - 1))));
			// What came in during the flight waits for the rest of its window (window 0: goes now).
			else if (this.#waiting.size > 0 && this.#deps.windowMs > 0) await this.#afterWindow(opened);
		}
		this.#running = false;
	}

	/** One batch; false when geo did not take it (then it waits again, unless a newer position of the vendor came). */
	async #write(batch: UpdateManyParams["positions"]): Promise<boolean> {
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
			for (const { vendorId, ...position } of batch)
				if (!this.#waiting.has(vendorId)) this.#waiting.set(vendorId, position as CellPosition);
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
