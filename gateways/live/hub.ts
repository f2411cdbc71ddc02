import type { TemplatedApp } from "uWebSockets.js";
import type { PositionChange } from "../../services/geo/contract.ts";
import { routingCell } from "./cells.ts";
import type { SocketView } from "./contract.ts";
import { LocalDemand } from "./demand/counts.ts";
import { CellFanout } from "./fanout.ts";
import { encode, positionView } from "./protocol/codec.ts";
import { CLOSE_CODES } from "./protocol/codes.ts";
import type { CellRouter } from "./router.ts";
import { SlowConsumers } from "./slow-consumers.ts";
import type { LiveSocket, SocketData } from "./socket.ts";
import { UserSockets } from "./user-sockets.ts";

/**
 * What became of one `pos` frame from a vendor socket: every frame has exactly one outcome, and
 * `countPosition` turns it into the counters (`positionsIn` when streamed, `positionsDropped` else).
 */
export type PositionOutcome = "streamed" | "invalid" | "rate_limited" | "stale";

export type LiveCounters = { positionsIn: number; positionsDropped: number; routedIn: number; deliveries: number };

/**
 * The node's live state: its sockets (added on open, removed on close), vendor sockets, watched
 * cells (reference counted, driving the NATS subscriptions), delivery to uWS topics (one topic
 * per H3 cell) and the counters.
 */
export class LiveHub {
	readonly sockets = new Set<LiveSocket>();
	readonly vendorSockets = new Map<string, LiveSocket>();
	/** Signed-in sockets by user (alerts go to all of a user's sockets). */
	readonly users = new UserSockets();
	readonly counters: LiveCounters = { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0 };
	readonly slow = new SlowConsumers(
		(ws, code, reason) => this.close(ws, code, reason),
		n => (this.counters.deliveries += n)
	);
	/** Watchers closed as slow consumers. */
	slowConsumersClosed = 0;
	draining = false;
	/** Sockets (and upgrades under way) per client address. */
	readonly #perAddress = new Map<string, number>();
	/** Watching sockets per cell at both demand levels, by routing cell (which drives the NATS subscriptions). */
	readonly demand: LocalDemand;
	readonly #res: number;
	readonly #fanout: CellFanout;
	#app: TemplatedApp | null = null;
	#router: CellRouter | null = null;

	/** `flushMs`: LIVE_FLUSH_MS, the coalescing window of local delivery (0 = every frame at once). */
	constructor(res: number, flushMs = 0) {
		this.#res = res;
		this.demand = new LocalDemand(res);
		this.#fanout = new CellFanout(flushMs, (cell, frame) => this.#publishToTopic(cell, frame));
	}

	attach(app: TemplatedApp, router: CellRouter | null): void {
		this.#app = app;
		this.#router = router;
	}

	/** A socket opened. */
	add(ws: LiveSocket): void {
		this.sockets.add(ws);
		this.users.add(ws);
		this.registerVendor(ws);
	}

	/**
	 * A vendor socket is authorised (at its upgrade, or by its first `auth` frame). A vendor's newer
	 * socket replaces the older one (closed KICKED, the vendor stays online).
	 */
	registerVendor(ws: LiveSocket): void {
		const { vendorId } = ws.getUserData();
		if (!vendorId) return;
		const previous = this.vendorSockets.get(vendorId);
		this.vendorSockets.set(vendorId, ws);
		if (previous) {
			previous.getUserData().keepOnline = true;
			this.close(previous, CLOSE_CODES.KICKED, "replaced by a newer connection");
		}
	}

	/** Holds a place for a socket of `address` (an upgrade starts); false when that address has `max` already. */
	reserve(address: string, max: number): boolean {
		const n = this.#perAddress.get(address) ?? 0;
		if (n >= max) return false;
		this.#perAddress.set(address, n + 1);
		return true;
	}

	/** Gives the place back (the upgrade failed, or the socket closed). */
	release(address: string): void {
		const n = (this.#perAddress.get(address) ?? 0) - 1;
		if (n > 0) this.#perAddress.set(address, n);
		else this.#perAddress.delete(address);
	}

	/** A socket closed: it watches nothing any more, and its address has a place free. */
	remove(ws: LiveSocket): void {
		const ud = ws.getUserData();
		if (ud.closed) return;
		ud.closed = true;
		this.release(ud.address);
		this.slow.forget(ws);
		for (const cell of ud.cells) this.#release(ud, cell);
		ud.cells.clear();
		ud.missed.clear();
		this.sockets.delete(ws);
		this.users.remove(ws);
		if (ud.vendorId && this.vendorSockets.get(ud.vendorId) === ws) this.vendorSockets.delete(ud.vendorId);
	}

	/** Replaces the socket's watch set (topics and routing interest follow). */
	setWatch(ws: LiveSocket, cells: readonly string[]): void {
		const ud = ws.getUserData();
		const next = new Set(cells);
		for (const cell of ud.cells) {
			if (next.has(cell)) continue;
			if (ud.offTopics) this.slow.unwatch(ws, cell);
			else ws.unsubscribe(cell);
			this.#release(ud, cell);
		}
		for (const cell of next) {
			if (ud.cells.has(cell)) continue;
			if (ud.offTopics) this.slow.watch(ws, cell);
			else ws.subscribe(cell);
			this.#retain(ud, cell);
		}
		ud.cells = next;
	}

	countPosition(outcome: PositionOutcome, n = 1): void {
		if (outcome === "streamed") this.counters.positionsIn += n;
		else this.counters.positionsDropped += n;
	}

	/**
	 * A change produced on this node: deliver here and route to interested nodes. A cell nobody
	 * watches on this node, on a node without routing, costs no frame at all.
	 */
	publish({ vendorId, cell, position, previousCell }: PositionChange): void {
		if (previousCell && previousCell !== cell && this.#wanted(previousCell))
			this.#publish(previousCell, vendorId, encode.gone(vendorId, previousCell));
		if (!this.#wanted(cell)) return;
		this.#publish(cell, vendorId, position ? encode.pos(positionView(vendorId, position, cell)) : encode.gone(vendorId, cell));
	}

	/** An update from another node (only arrives for routing cells this node subscribed to). */
	onRouted(cell: string, vendorId: string, frame: string): void {
		this.counters.routedIn++;
		this.#deliver(cell, vendorId, frame);
	}

	close(ws: LiveSocket, code: number, reason: string): void {
		if (ws.getUserData().closed) return;
		if (code === CLOSE_CODES.SLOW_CONSUMER) this.slowConsumersClosed++;
		ws.end(code, reason);
	}

	/** Closes the vendor's socket on this node; false when it has none here. */
	closeVendor(vendorId: string, code: number, reason: string): boolean {
		const ws = this.vendorSockets.get(vendorId);
		if (ws) this.close(ws, code, reason);
		return ws !== undefined;
	}

	closeUser(userId: string, code: number, reason: string): void {
		for (const ws of [...this.users.of(userId)]) this.close(ws, code, reason);
	}

	/** Shutdown: what the fan-out window holds goes out, then every client is told to reconnect elsewhere; vendors stay online meanwhile. */
	closeAll(code: number, reason: string): void {
		this.#fanout.flush();
		for (const ws of [...this.sockets]) {
			ws.getUserData().keepOnline = true;
			this.close(ws, code, reason);
		}
	}

	stats() {
		let watchers = 0;
		for (const ws of this.sockets) if (ws.getUserData().cells.size > 0) watchers++;
		return {
			sockets: this.sockets.size,
			watchers,
			vendors: this.vendorSockets.size,
			slowSockets: this.slow.size,
			backpressureDrops: this.slow.drops,
			slowConsumersClosed: this.slowConsumersClosed,
			alertsSent: this.users.alertsSent,
			watchedCells: this.demand.watchedCells,
			routingSubjects: this.demand.areas,
			counters: { ...this.counters },
		};
	}

	/** Watching sockets per watched cell, busiest first. */
	cellWatchers(): { cell: string; watchers: number }[] {
		return [...this.demand.fineCells()]
			.map(([cell, watchers]) => ({ cell, watchers }))
			.sort((a, b) => b.watchers - a.watchers || a.cell.localeCompare(b.cell));
	}

	/** Watch sets per socket. */
	watchSets(): SocketView[] {
		return [...this.sockets].map(ws => {
			const ud = ws.getUserData();
			return {
				connId: ud.connId,
				user: ud.user?.id ?? null,
				vendorId: ud.vendorId,
				cells: ud.cells.size,
				buffered: ws.getBufferedAmount(),
				behind: ud.missed.size,
				slow: ud.slowSince !== 0,
			};
		});
	}

	#publish(cell: string, vendorId: string, frame: string): void {
		this.#deliver(cell, vendorId, frame);
		this.#router?.publish(routingCell(cell, this.#res), cell, vendorId, frame);
	}

	#deliver(cell: string, vendorId: string, frame: string): void {
		if (!this.#app) return;
		this.#fanout.send(cell, vendorId, frame);
		this.slow.remember(cell, vendorId, frame);
	}

	#publishToTopic(cell: string, frame: string): void {
		const app = this.#app;
		const subscribers = app?.numSubscribers(cell) ?? 0;
		if (subscribers === 0) return;
		app!.publish(cell, frame);
		this.counters.deliveries += subscribers;
	}

	#wanted(cell: string): boolean {
		return this.#router !== null || this.demand.fineCount(cell) > 0;
	}

	#retain(ud: SocketData, cell: string): void {
		const opened = this.demand.watch(ud.coarse, cell);
		if (opened) this.#router?.subscribe(opened);
	}

	#release(ud: SocketData, cell: string): void {
		const emptied = this.demand.unwatch(ud.coarse, cell);
		if (emptied) this.#router?.unsubscribe(emptied);
	}
}
