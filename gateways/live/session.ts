import type { Span } from "moleculer";
import type { TokenVerifier } from "../../lib/auth.ts";
import type { WebSocketBehavior } from "uWebSockets.js";
import { checkPosition } from "../../lib/position.ts";
import type { StoredPosition } from "../../services/geo/contract.ts";
import { take } from "../../lib/token-bucket.ts";
import { inSpan } from "../../runtime/tracing.ts";
import { SocketAuth } from "./auth.ts";
import { estimateWatchCells, TooManyCellsError, watchCells } from "./cells.ts";
import { encode, parseFrame, positionView } from "./protocol/codec.ts";
import { CLOSE_CODES, ERROR_CODES, STANDARD_CLOSE_CODES, type ErrorCode } from "./protocol/codes.ts";
import type { HereFrame, PosFrame, WatchFrame } from "./protocol/frames.ts";
import { SharedPositions } from "./here.ts";
import { SnapshotReader } from "./snapshots.ts";
import type { LiveSocket, SocketData } from "./socket.ts";
import { type VendorStreamDeps, VendorStreams } from "./positions.ts";

/** Bad frames tolerated per window before the socket is closed (POLICY). */
export const ABUSE_MAX_BAD_FRAMES = 20;
/** Frames over the socket's budget tolerated per window before it is closed (POLICY). */
export const ABUSE_MAX_LIMITED_FRAMES = 200;
export const ABUSE_WINDOW_MS = 10_000;
const RATE_LIMIT_ERROR_EVERY_MS = 1_000;
/**
 * The store's answer, with the positions this node streamed and has not written yet (the writer
 * lags by its window): a vendor that just came online is in the snapshot of a watcher here.
 */
function withUnwritten(stored: StoredPosition[], unwritten: StoredPosition[]): StoredPosition[] {
	if (unwritten.length === 0) return stored;
	const newest = new Map(stored.map(v => [v.vendorId, v]));
	for (const v of unwritten) if ((newest.get(v.vendorId)?.ts ?? -1) < v.ts) newest.set(v.vendorId, v);
	return [...newest.values()];
}

/** Watch work (cells computed and read) per event-loop turn, across all sockets: the rest waits a turn. */
export const WATCH_CELLS_PER_TURN = 5_000;

/** What an `auth` frame costs from the socket's op budget (a signature check and a user lookup). */
const AUTH_COST = 10;

/** What the vendor streams need (`vendorAt`: interest follows the vendor's cell), and the token check. */
export type SessionDeps = Omit<VendorStreamDeps, "tellVendor"> & { verifyToken: TokenVerifier };
export type SessionHandlers = Required<Pick<WebSocketBehavior<SocketData>, "open" | "message" | "drain" | "dropped" | "close">>;

/**
 * What open sockets do: watch sets and their snapshots, vendor positions (validated, rate
 * limited, group-committed), pings, abuse strikes, and the vendor going offline on close.
 */
export class LiveSessions {
	readonly #deps: SessionDeps;
	readonly #vendors: VendorStreams;
	readonly #auth: SocketAuth;
	readonly #snapshots: SnapshotReader;
	readonly #shared: SharedPositions;
	/** Sockets with a watch waiting for its turn, in arrival order (each socket's latest watch only). */
	readonly #watchQueue = new Set<LiveSocket>();
	#watchTurnScheduled = false;

	constructor(deps: SessionDeps) {
		this.#deps = deps;
		this.#vendors = new VendorStreams({ ...deps, tellVendor: (vendorId, message) => this.#tellVendor(vendorId, message) });
		this.#snapshots = new SnapshotReader(deps.broker);
		this.#shared = new SharedPositions(deps.broker, deps.hub);
		this.#auth = new SocketAuth({
			...deps,
			graceMs: deps.config.authGraceS * 1000,
			sendError: (ws, code, message) => this.#strike(ws, code, message),
		});
	}

	/** Every second: closes sockets whose token expired beyond the grace, sends shared positions that waited. */
	tick(now: number): void {
		this.#auth.sweep(now);
		this.#shared.flush(now);
	}

	/** The uWS callbacks of an open socket, each guarded: a fault closes that socket (1011), never the process. */
	handlers(): SessionHandlers {
		const { hub } = this.#deps;
		return {
			open: ws => this.#guard(ws, "open", () => hub.add(ws)),
			message: (ws, data, isBinary) => this.#guard(ws, "message", () => this.#message(ws, data, isBinary)),
			dropped: (ws, message) => this.#guard(ws, "dropped", () => hub.slow.onDropped(ws, Buffer.from(message).toString("utf8"))),
			drain: ws => this.#guard(ws, "drain", () => hub.slow.catchUp(ws)),
			close: ws =>
				this.#guard(ws, "close", () => {
					const { vendorId, keepOnline } = ws.getUserData();
					hub.remove(ws);
					this.#shared.closed(ws);
					if (vendorId && !keepOnline) void this.#vendors.close(vendorId);
				}),
		};
	}

	#guard(ws: LiveSocket, callback: string, run: () => void): void {
		try {
			run();
		} catch (err) {
			this.#failed(ws, callback, err);
		}
	}

	/** A handler (or the async work it started) failed: log it and close that socket with 1011. */
	#failed(ws: LiveSocket, callback: string, err: unknown): void {
		const ud = ws.getUserData();
		this.#deps.logger.error(
			{ err: (err as Error).message, stack: (err as Error).stack, callback, connId: ud.connId },
			"Live socket handler failed; closing that socket"
		);
		if (!ud.closed) this.#deps.hub.close(ws, STANDARD_CLOSE_CODES.INTERNAL_ERROR, "internal error");
	}

	#message(ws: LiveSocket, data: ArrayBuffer, isBinary: boolean): void {
		const { config } = this.#deps;
		const frame = parseFrame(data, isBinary, { res: config.h3Res, maxCells: config.watchMaxCells });
		switch (frame.op) {
			case "error":
				this.#strike(ws, frame.code, frame.message);
				return;
			case "ping":
				if (this.#spend(ws, 1)) ws.send(encode.pong);
				return;
			case "pos":
				this.#position(ws, frame);
				return;
			case "watch":
				this.#queueWatch(ws, frame);
				return;
			case "here":
				if (this.#spend(ws, 1)) this.#here(ws, frame);
				return;
			case "auth":
				if (this.#spend(ws, AUTH_COST)) this.#auth.onFrame(ws, frame).catch(err => this.#failed(ws, "auth", err));
		}
	}

	#sendError(ws: LiveSocket, code: ErrorCode, message: string): void {
		if (!ws.getUserData().closed) ws.send(encode.error(code, message));
	}

	/** Counts a bad frame; repeated abuse closes the socket. */
	#strike(ws: LiveSocket, code: ErrorCode, message: string): void {
		const ud = ws.getUserData();
		const now = Date.now();
		if (now - ud.badWindowStart > ABUSE_WINDOW_MS) {
			ud.badWindowStart = now;
			ud.badFrames = 0;
		}
		if (++ud.badFrames > ABUSE_MAX_BAD_FRAMES) this.#deps.hub.close(ws, CLOSE_CODES.POLICY, "too many bad frames");
		else this.#sendError(ws, code, message);
	}

	/** Takes `cost` from the socket's op budget; over budget: RATE_LIMITED (at most once a second), and closed if it goes on. */
	#spend(ws: LiveSocket, cost: number): boolean {
		const ud = ws.getUserData();
		const now = Date.now();
		const perS = this.#deps.config.liveOpsPerS;
		if (take(ud.ops, cost, now, perS, 2 * perS)) return true;
		this.#overBudget(ws, now, "Too many requests on this socket; slow down");
		return false;
	}

	#overBudget(ws: LiveSocket, now: number, message: string): void {
		const ud = ws.getUserData();
		if (now - ud.badWindowStart > ABUSE_WINDOW_MS) {
			ud.badWindowStart = now;
			ud.badFrames = 0;
			ud.limitedFrames = 0;
		}
		if (++ud.limitedFrames > ABUSE_MAX_LIMITED_FRAMES) {
			this.#deps.hub.close(ws, CLOSE_CODES.POLICY, "too many requests");
			return;
		}
		if (now - ud.lastRateLimitErrorAt <= RATE_LIMIT_ERROR_EVERY_MS) return;
		ud.lastRateLimitErrorAt = now;
		this.#sendError(ws, ERROR_CODES.RATE_LIMITED, message);
	}

	/** A watch costs 1 + 1 per 100 cells it asks for; it waits for its turn, and a newer watch of the socket replaces it. */
	#queueWatch(ws: LiveSocket, frame: WatchFrame): void {
		const { h3Res, watchMaxCells } = this.#deps.config;
		const estimate = estimateWatchCells(frame, h3Res);
		if (estimate > watchMaxCells) {
			this.#strike(ws, ERROR_CODES.TOO_MANY_CELLS, new TooManyCellsError(estimate, watchMaxCells).message);
			return;
		}
		if (!this.#spend(ws, 1 + Math.ceil(estimate / 100))) return;
		ws.getUserData().pendingWatch = frame;
		this.#watchQueue.add(ws);
		if (this.#watchTurnScheduled) return;
		this.#watchTurnScheduled = true;
		setImmediate(() => this.#watchTurn());
	}

	/** Works on queued watches up to WATCH_CELLS_PER_TURN cells, then lets the loop turn (other sockets' frames) go first. */
	#watchTurn(): void {
		let budget = WATCH_CELLS_PER_TURN;
		for (const ws of this.#watchQueue) {
			if (budget <= 0) break;
			this.#watchQueue.delete(ws);
			const ud = ws.getUserData();
			const frame = ud.pendingWatch;
			ud.pendingWatch = null;
			if (!frame || ud.closed) continue;
			budget -= estimateWatchCells(frame, this.#deps.config.h3Res);
			inSpan(this.#deps.broker, "live watch", "live", span => this.#watch(ws, frame, span)).catch(err => this.#failed(ws, "watch", err));
		}
		this.#watchTurnScheduled = this.#watchQueue.size > 0;
		if (this.#watchTurnScheduled) setImmediate(() => this.#watchTurn());
	}

	async #watch(ws: LiveSocket, frame: WatchFrame, span: Span | undefined): Promise<void> {
		const { config, hub, logger } = this.#deps;
		let cells: readonly string[];
		try {
			cells = watchCells(frame, config.h3Res, config.watchMaxCells);
		} catch (err) {
			if (err instanceof TooManyCellsError) return this.#strike(ws, ERROR_CODES.TOO_MANY_CELLS, err.message);
			throw err;
		}
		const ud = ws.getUserData();
		span?.addTags({ connId: ud.connId, cells: cells.length });
		const gen = ++ud.watchGen;
		// Subscribe first, then read the snapshot: nothing is missed in between (clients keep the newest ts per vendor).
		hub.setWatch(ws, cells);
		let vendors: StoredPosition[];
		try {
			vendors = await this.#snapshots.read(cells, span);
		} catch (err) {
			// The watch set stays in place (updates flow); the client retries the watch for its snapshot.
			logger.warn({ err: (err as Error).message, connId: ud.connId }, "Snapshot failed");
			span?.setError(err as Error);
			if (!ud.closed && ud.watchGen === gen) this.#sendError(ws, ERROR_CODES.UNAVAILABLE, "Snapshot unavailable; send the watch again");
			return;
		}
		if (ud.closed || ud.watchGen !== gen) return;
		const snapshot = encode.snapshot(
			cells,
			withUnwritten(vendors, this.#vendors.unwrittenIn(new Set(cells))).map(v => positionView(v.vendorId, v, v.cell))
		);
		ws.cork(() => {
			// A snapshot is all-or-nothing: a watcher that cannot take one is too far behind.
			if (ws.send(snapshot) === 2) hub.close(ws, CLOSE_CODES.SLOW_CONSUMER, "slow consumer");
		});
	}

	/** Takes a vendor frame: validate, rate limit, then stream it (written to geo behind). */
	#position(ws: LiveSocket, frame: PosFrame): void {
		const { config, hub } = this.#deps;
		const ud = ws.getUserData();
		if (!ud.vendorId) {
			if (ud.user) this.#strike(ws, ERROR_CODES.FORBIDDEN, "Only a vendor socket (?vendor=<id>) may send positions");
			else if (ud.awaitingVendorId) this.#strike(ws, ERROR_CODES.UNAUTHORIZED, 'Send {"op":"auth","token":…} first');
			else this.#strike(ws, ERROR_CODES.UNAUTHORIZED, "Sign in: positions need a vendor socket (?vendor=<id> and the owner's token)");
			return;
		}
		const now = Date.now();
		const check = checkPosition(frame, now, config.vendorOfflineAfterS * 1000);
		if (!check.ok) {
			hub.countPosition("invalid");
			this.#strike(ws, ERROR_CODES.BAD_REQUEST, check.message);
			return;
		}
		const hz = config.positionMaxHz;
		if (!take(ud.positions, 1, now, hz, Math.max(1, hz))) {
			hub.countPosition("rate_limited");
			if (now - ud.lastRateLimitErrorAt > RATE_LIMIT_ERROR_EVERY_MS) {
				ud.lastRateLimitErrorAt = now;
				this.#sendError(ws, ERROR_CODES.RATE_LIMITED, `At most ${hz} positions per second; extra frames are dropped`);
			}
			return;
		}
		this.#vendors.accept(ud.vendorId, check.position);
	}

	/** A shared position: signed-in sockets only (any user; it follows their own alerts). */
	#here(ws: LiveSocket, frame: HereFrame): void {
		if (ws.getUserData().user) this.#shared.onFrame(ws, frame);
		else this.#strike(ws, ERROR_CODES.UNAUTHORIZED, 'Sign in to share your position: send {"op":"auth","token":…} first');
	}

	#tellVendor(vendorId: string, message: string): void {
		const ws = this.#deps.hub.vendorSockets.get(vendorId);
		if (ws) this.#sendError(ws, ERROR_CODES.BAD_REQUEST, message);
	}
}
