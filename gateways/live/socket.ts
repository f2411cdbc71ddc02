import type { WebSocket } from "uWebSockets.js";
import type { Caller } from "../../lib/identity.ts";

/** Who a socket belongs to, as the upgrade established it. */
export type SocketIdentity = {
	/** The signed-in user; null for an anonymous watcher. */
	user: Caller | null;
	/** Set on vendor sockets (`?vendor=<id>`): the vendor this socket broadcasts for. */
	vendorId: string | null;
};

/** Per-connection state, kept in uWS `getUserData()`; made by `createSocketData` only. */
export type SocketData = SocketIdentity & {
	connId: number;
	/** The H3 cells (topics) this socket watches. */
	cells: Set<string>;
	/** Bumped by every watch; a snapshot answers only the latest one. */
	watchGen: number;
	/** Rate limit of `pos`: tokens refill at POSITION_MAX_HZ up to one second's worth. */
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

let connSeq = 0;

/** The state of a new socket: its identity, nothing watched, a full rate-limit bucket. */
export function createSocketData(identity: SocketIdentity, positionMaxHz: number, now = Date.now()): SocketData {
	return {
		connId: ++connSeq,
		user: identity.user,
		vendorId: identity.vendorId,
		cells: new Set(),
		watchGen: 0,
		tokens: Math.max(1, positionMaxHz),
		tokensAt: now,
		lastRateLimitErrorAt: 0,
		badFrames: 0,
		badWindowStart: now,
		slowSince: 0,
		missed: new Map(),
		offTopics: false,
		keepOnline: false,
		closed: false,
	};
}
