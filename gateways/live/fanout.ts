/**
 * The local fan-out of frames to their cells' uWS topics. With a window (LIVE_FLUSH_MS > 0) the
 * frames of a window are kept, the latest per vendor and cell, and published together when it
 * ends: uWS then writes each watcher's frames of the window in one go instead of one write per
 * frame, at the price of up to the window in latency. Without one, each frame goes at once.
 */
export class CellFanout {
	readonly #windowMs: number;
	readonly #publish: (cell: string, frame: string) => void;
	/**
	 * `cell vendor` → the vendor's latest frame for that cell in this window. One map in arrival
	 * order (a replaced frame moves to the end): a vendor's `gone` on the cell it left still goes
	 * before its `pos` on the new one, as a watcher of both expects.
	 */
	#pending = new Map<string, { cell: string; frame: string }>();
	#timer: NodeJS.Timeout | null = null;

	constructor(windowMs: number, publish: (cell: string, frame: string) => void) {
		this.#windowMs = windowMs;
		this.#publish = publish;
	}

	/** A vendor's frame for a cell: published now, or with the window's others (replacing that vendor's earlier one). */
	send(cell: string, vendorId: string, frame: string): void {
		if (this.#windowMs === 0) {
			this.#publish(cell, frame);
			return;
		}
		const key = `${cell} ${vendorId}`;
		this.#pending.delete(key);
		this.#pending.set(key, { cell, frame });
		this.#timer ??= setTimeout(() => this.flush(), this.#windowMs);
	}

	/** Publishes what the window holds (also at shutdown, so nothing accepted is held back). */
	flush(): void {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
		const pending = this.#pending;
		this.#pending = new Map();
		for (const { cell, frame } of pending.values()) this.#publish(cell, frame);
	}
}
