import { CLOSE_CODES } from "./protocol/codes.ts";
import type { LiveSocket } from "./socket.ts";

/** A socket over maxBackpressure is caught up (latest-wins) below this many buffered bytes. */
export const LOW_WATER_BYTES = 32 * 1024;
export const MAX_BACKPRESSURE_BYTES = 256 * 1024;
/** A watcher that stays behind this long is closed (SLOW_CONSUMER). */
export const SLOW_CONSUMER_CLOSE_MS = 5_000;
/** More undelivered vendors than this and the watcher is closed at once. */
const MAX_MISSED = 10_000;

/**
 * Watchers that cannot keep up: uWS refused a frame for them (over maxBackpressure). They are
 * taken off their topics and fed latest-wins from `missed` (one frame per vendor) as they drain,
 * back on their topics once caught up, and closed if they stay behind.
 */
export class SlowConsumers {
	readonly #byCell = new Map<string, Set<LiveSocket>>();
	readonly #sockets = new Set<LiveSocket>();
	readonly #close: (ws: LiveSocket, code: number, reason: string) => void;
	readonly #onSent: (n: number) => void;
	/** Frames uWS refused for sockets over maxBackpressure (each one makes or keeps a socket slow). */
	drops = 0;

	constructor(close: (ws: LiveSocket, code: number, reason: string) => void, onSent: (n: number) => void) {
		this.#close = close;
		this.#onSent = onSent;
	}

	get size(): number {
		return this.#sockets.size;
	}

	/** A slow socket watches `cell` (instead of its topic). */
	watch(ws: LiveSocket, cell: string): void {
		const set = this.#byCell.get(cell);
		if (set) set.add(ws);
		else this.#byCell.set(cell, new Set([ws]));
	}

	unwatch(ws: LiveSocket, cell: string): void {
		const set = this.#byCell.get(cell);
		set?.delete(ws);
		if (set?.size === 0) this.#byCell.delete(cell);
	}

	forget(ws: LiveSocket): void {
		for (const cell of ws.getUserData().cells) this.unwatch(ws, cell);
		this.#sockets.delete(ws);
	}

	/** A frame for `cell` that slow watchers of it get when they catch up (replacing the vendor's older one). */
	remember(cell: string, vendorId: string, frame: string): void {
		const slow = this.#byCell.get(cell);
		if (slow) for (const ws of slow) ws.getUserData().missed.set(vendorId, frame);
	}

	/** uWS dropped a frame for this socket: it is behind. Take it off its topics; latest-wins from now on. */
	onDropped(ws: LiveSocket, frame: string): void {
		const ud = ws.getUserData();
		this.drops++;
		if (ud.closed) return;
		const id = frameVendorId(frame);
		if (id) ud.missed.set(id, frame);
		if (ud.slowSince !== 0) return;
		ud.slowSince = Date.now();
		// uWS calls this from inside publish(): change subscriptions (or close) only once it has returned.
		queueMicrotask(() => {
			if (ud.closed || ud.slowSince === 0 || ud.offTopics) return;
			if (ud.missed.size > MAX_MISSED) return this.#close(ws, CLOSE_CODES.SLOW_CONSUMER, "slow consumer");
			ud.offTopics = true;
			this.#sockets.add(ws);
			for (const cell of ud.cells) {
				ws.unsubscribe(cell);
				this.watch(ws, cell);
			}
		});
	}

	/** Sends the latest missed frames while the socket has room; back on its topics once caught up. */
	catchUp(ws: LiveSocket): void {
		const ud = ws.getUserData();
		if (ud.slowSince === 0 || ud.closed) return;
		let sent = 0;
		ws.cork(() => {
			for (const [id, frame] of ud.missed) {
				if (ws.getBufferedAmount() > LOW_WATER_BYTES) return;
				ud.missed.delete(id);
				ws.send(frame);
				sent++;
			}
		});
		this.#onSent(sent);
		if (ud.missed.size > 0 || ws.getBufferedAmount() > LOW_WATER_BYTES || ud.closed) return;
		ud.slowSince = 0;
		this.#sockets.delete(ws);
		if (!ud.offTopics) return;
		ud.offTopics = false;
		for (const cell of ud.cells) {
			this.unwatch(ws, cell);
			ws.subscribe(cell);
		}
	}

	/** Closes watchers that stayed behind too long; nudges the others to catch up. */
	sweep(now: number): void {
		for (const ws of this.#sockets) {
			if (now - ws.getUserData().slowSince > SLOW_CONSUMER_CLOSE_MS) this.#close(ws, CLOSE_CODES.SLOW_CONSUMER, "slow consumer");
			else this.catchUp(ws);
		}
	}
}

/** The vendor id of a `pos`/`gone` frame (only needed on the rare dropped-frame path). */
function frameVendorId(frame: string): string | null {
	try {
		const msg = JSON.parse(frame) as { op?: string; id?: unknown };
		return (msg.op === "pos" || msg.op === "gone") && typeof msg.id === "string" ? msg.id : null;
	} catch {
		return null;
	}
}
