import type { TemplatedApp, WebSocket } from "uWebSockets.js";
import { encode, positionView } from "./protocol/codec.ts";
import { routingCell } from "./cells.ts";
import { CLOSE_CODES } from "./protocol/codes.ts";
import type { Position } from "../../lib/position.ts";
import type { CellRouter } from "./router.ts";

export type SocketUser = { id: string; role: string };

/** Per-connection state, kept in uWS `getUserData()`. */
export type SocketData = {
	connId: number;
	user: SocketUser | null;
	/** Set on vendor sockets (`?vendor=<id>`): the vendor this socket broadcasts for. */
	vendorId: string | null;
	/** The H3 cells (topics) this socket watches. */
	cells: Set<string>;
	/** Bumped by every watch; a snapshot answers only the latest one. */
	watchGen: number;
	/** Rate limit: tokens refill at POSITION_MAX_HZ up to one second's worth. */
	tokens: number;
	tokensAt: number;
	lastRateLimitErrorAt: number;
	/** Bad frames in the current abuse window. */
	badFrames: number;
	badWindowStart: number;
	/** Slow consumer: since when it is behind (0 = not), and the latest undelivered frame per vendor. */
	slowSince: number;
	missed: Map<string, string>;
	/** Taken off its uWS topics while slow (fed from `missed` instead). */
	offTopics: boolean;
	/** Closed by the server without taking the vendor offline (replaced by a newer socket, shutdown). */
	keepOnline: boolean;
	closed: boolean;
};
export type LiveSocket = WebSocket<SocketData>;

/**
 * Every `pos` frame from a vendor socket is counted once: `positionsIn` when stored and
 * streamed, `positionsDropped` otherwise (invalid, rate limited, superseded, stale, failed).
 */
export type LiveCounters = { positionsIn: number; positionsDropped: number; routedIn: number; deliveries: number };

/** Per-socket view for operators and tests. */
export type SocketView = { connId: number; user: string | null; vendorId: string | null; cells: number; buffered: number; behind: number; slow: boolean };

/** A socket over maxBackpressure is caught up (latest-wins) below this many buffered bytes. */
export const LOW_WATER_BYTES = 32 * 1024;
export const MAX_BACKPRESSURE_BYTES = 256 * 1024;
/** A watcher that stays behind this long is closed (SLOW_CONSUMER). */
export const SLOW_CONSUMER_CLOSE_MS = 5_000;
/** More undelivered vendors than this and the watcher is closed at once. */
const MAX_MISSED = 10_000;

/**
 * The node's live state: sockets, watched cells (reference counted, driving the NATS
 * subscriptions), vendor sockets, and delivery to uWS topics (one topic per H3 cell).
 */
export class LiveHub {
	readonly sockets = new Set<LiveSocket>();
	readonly vendorSockets = new Map<string, LiveSocket>();
	readonly counters: LiveCounters = { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0 };
	/** Frames uWS refused for sockets over maxBackpressure (each one makes or keeps a socket slow). */
	backpressureDrops = 0;
	/** Watchers closed as slow consumers. */
	slowConsumersClosed = 0;
	/** Watching sockets per fine cell, and watched fine cells per routing cell. */
	readonly #cellRefs = new Map<string, number>();
	readonly #routingRefs = new Map<string, number>();
	/** Slow sockets are taken off their topics and fed latest-wins from here. */
	readonly #slowByCell = new Map<string, Set<LiveSocket>>();
	readonly #slow = new Set<LiveSocket>();
	readonly #res: number;
	#app: TemplatedApp | null = null;
	#router: CellRouter | null = null;
	draining = false;

	constructor(res: number) {
		this.#res = res;
	}

	attach(app: TemplatedApp, router: CellRouter | null): void {
		this.#app = app;
		this.#router = router;
	}

	/** Replaces the socket's watch set (topics and routing interest follow). */
	setWatch(ws: LiveSocket, cells: readonly string[]): void {
		const ud = ws.getUserData();
		const next = new Set(cells);
		const slow = ud.offTopics;
		for (const cell of ud.cells) {
			if (next.has(cell)) continue;
			if (slow) this.#slowByCell.get(cell)?.delete(ws);
			else ws.unsubscribe(cell);
			this.#release(cell);
		}
		for (const cell of next) {
			if (ud.cells.has(cell)) continue;
			if (slow) this.#slowSet(cell).add(ws);
			else ws.subscribe(cell);
			this.#retain(cell);
		}
		ud.cells = next;
	}

	remove(ws: LiveSocket): void {
		const ud = ws.getUserData();
		ud.closed = true;
		for (const cell of ud.cells) {
			this.#slowByCell.get(cell)?.delete(ws);
			this.#release(cell);
		}
		ud.cells.clear();
		ud.missed.clear();
		this.#slow.delete(ws);
		this.sockets.delete(ws);
		if (ud.vendorId && this.vendorSockets.get(ud.vendorId) === ws) this.vendorSockets.delete(ud.vendorId);
	}

	/**
	 * A position (or `gone`) produced on this node: deliver here and route to interested nodes.
	 * A cell nobody watches on this node, on a node without routing, costs no frame at all.
	 */
	publishUpdate(vendorId: string, cell: string, position: Position | undefined, previousCell: string | null | undefined): void {
		if (previousCell && previousCell !== cell && this.#wanted(previousCell)) this.#publish(previousCell, vendorId, encode.gone(vendorId, previousCell));
		if (!this.#wanted(cell)) return;
		this.#publish(cell, vendorId, position ? encode.pos(positionView(vendorId, position, cell)) : encode.gone(vendorId, cell));
	}

	/** An update from another node (only arrives for routing cells this node subscribed to). */
	onRouted(cell: string, vendorId: string, frame: string): void {
		this.counters.routedIn++;
		this.deliver(cell, vendorId, frame);
	}

	deliver(cell: string, vendorId: string, frame: string): void {
		const app = this.#app;
		if (!app) return;
		const subscribers = app.numSubscribers(cell);
		if (subscribers > 0) {
			app.publish(cell, frame);
			this.counters.deliveries += subscribers;
		}
		const slow = this.#slowByCell.get(cell);
		if (slow) for (const ws of slow) ws.getUserData().missed.set(vendorId, frame);
	}

	/** uWS dropped a frame for this socket: it is behind. Take it off its topics; latest-wins from now on. */
	onDropped(ws: LiveSocket, frame: string): void {
		const ud = ws.getUserData();
		this.backpressureDrops++;
		if (ud.closed) return;
		const id = frameVendorId(frame);
		if (id) ud.missed.set(id, frame);
		if (ud.slowSince !== 0) return;
		ud.slowSince = Date.now();
		// uWS calls this from inside publish(): change subscriptions (or close) only once it has returned.
		queueMicrotask(() => {
			if (ud.closed || ud.slowSince === 0 || ud.offTopics) return;
			if (ud.missed.size > MAX_MISSED) return this.close(ws, CLOSE_CODES.SLOW_CONSUMER, "slow consumer");
			ud.offTopics = true;
			this.#slow.add(ws);
			for (const cell of ud.cells) {
				ws.unsubscribe(cell);
				this.#slowSet(cell).add(ws);
			}
		});
	}

	/** Sends the latest missed frames while the socket has room; back on its topics once caught up. */
	catchUp(ws: LiveSocket): void {
		const ud = ws.getUserData();
		if (ud.slowSince === 0 || ud.closed) return;
		ws.cork(() => {
			for (const [id, frame] of ud.missed) {
				if (ws.getBufferedAmount() > LOW_WATER_BYTES) return;
				ud.missed.delete(id);
				ws.send(frame);
				this.counters.deliveries++;
			}
		});
		if (ud.missed.size > 0 || ws.getBufferedAmount() > LOW_WATER_BYTES || ud.closed) return;
		ud.slowSince = 0;
		this.#slow.delete(ws);
		if (!ud.offTopics) return;
		ud.offTopics = false;
		for (const cell of ud.cells) {
			this.#slowByCell.get(cell)?.delete(ws);
			ws.subscribe(cell);
		}
	}

	/** Closes watchers that stayed behind too long; nudges the others to catch up. */
	sweepSlow(now: number): void {
		for (const ws of this.#slow) {
			if (now - ws.getUserData().slowSince > SLOW_CONSUMER_CLOSE_MS) this.close(ws, CLOSE_CODES.SLOW_CONSUMER, "slow consumer");
			else this.catchUp(ws);
		}
	}

	close(ws: LiveSocket, code: number, reason: string): void {
		if (ws.getUserData().closed) return;
		if (code === CLOSE_CODES.SLOW_CONSUMER) this.slowConsumersClosed++;
		ws.end(code, reason);
	}

	stats() {
		let watchers = 0;
		for (const ws of this.sockets) if (ws.getUserData().cells.size > 0) watchers++;
		return {
			sockets: this.sockets.size,
			watchers,
			vendors: this.vendorSockets.size,
			slowSockets: this.#slow.size,
			backpressureDrops: this.backpressureDrops,
			slowConsumersClosed: this.slowConsumersClosed,
			watchedCells: this.#cellRefs.size,
			routingSubjects: this.#routingRefs.size,
			counters: { ...this.counters },
		};
	}

	/** Watching sockets per watched cell, busiest first (for operators: `live.stats` with `cells: true`). */
	cellWatchers(): { cell: string; watchers: number }[] {
		return [...this.#cellRefs].map(([cell, watchers]) => ({ cell, watchers })).sort((a, b) => b.watchers - a.watchers || a.cell.localeCompare(b.cell));
	}

	/** Watch sets per socket (for operators: `live.stats` with `sockets: true`). */
	watchSets(): SocketView[] {
		return [...this.sockets].map(ws => {
			const ud = ws.getUserData();
			return { connId: ud.connId, user: ud.user?.id ?? null, vendorId: ud.vendorId, cells: ud.cells.size, buffered: ws.getBufferedAmount(), behind: ud.missed.size, slow: ud.slowSince !== 0 };
		});
	}

	#publish(cell: string, vendorId: string, frame: string): void {
		this.deliver(cell, vendorId, frame);
		this.#router?.publish(routingCell(cell, this.#res), cell, vendorId, frame);
	}

	#wanted(cell: string): boolean {
		return this.#router !== null || this.#cellRefs.has(cell);
	}

	#slowSet(cell: string): Set<LiveSocket> {
		let set = this.#slowByCell.get(cell);
		if (!set) this.#slowByCell.set(cell, (set = new Set()));
		return set;
	}

	#retain(cell: string): void {
		const n = (this.#cellRefs.get(cell) ?? 0) + 1;
		this.#cellRefs.set(cell, n);
		if (n !== 1) return;
		const r = routingCell(cell, this.#res);
		const m = (this.#routingRefs.get(r) ?? 0) + 1;
		this.#routingRefs.set(r, m);
		if (m === 1) this.#router?.subscribe(r);
	}

	#release(cell: string): void {
		const n = (this.#cellRefs.get(cell) ?? 0) - 1;
		if (n > 0) {
			this.#cellRefs.set(cell, n);
			return;
		}
		this.#cellRefs.delete(cell);
		const set = this.#slowByCell.get(cell);
		if (set?.size === 0) this.#slowByCell.delete(cell);
		const r = routingCell(cell, this.#res);
		const m = (this.#routingRefs.get(r) ?? 0) - 1;
		if (m > 0) this.#routingRefs.set(r, m);
		else {
			this.#routingRefs.delete(r);
			this.#router?.unsubscribe(r);
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
