import type { WebSocket } from "uWebSockets.js";
import type { Interest } from "../../lib/demand.ts";
import type { Caller } from "../../lib/identity.ts";
import { fullBucket, type Bucket } from "../../lib/token-bucket.ts";
import type { CoarseWatch } from "./demand/counts.ts";
import type { WatchFrame } from "./protocol/frames.ts";

/** Who a socket belongs to, as the upgrade (or a later `auth` frame) established it. */
export type SocketIdentity = {
	/** The signed-in user; null for an anonymous watcher. */
	user: Caller | null;
	/** Set on vendor sockets (`?vendor=<id>`) once authorised: the vendor this socket broadcasts for. */
	vendorId: string | null;
	/** `?vendor=<id>` of a socket that will send its token in the first frame: not authorised yet. */
	awaitingVendorId: string | null;
	/** When the socket's token expires (epoch ms); null without a token. */
	tokenExpiresAt: number | null;
	/** The client's address (the peer, or what CLIENT_IP_HEADER says); sockets per address are capped. */
	address: string;
};

/** A vendor socket's interest (demand/interest.ts): its current cell, that cell's ring (and each ring cell's routing cell), the last frame sent. */
export type InterestState = {
	cell: string | null;
	ring: string[];
	ringRouting: string[];
	/** The distinct routing cells of the ring (what this socket makes the node follow). */
	routings: string[];
	sent: Interest | null;
	sentAt: number;
};

/** Per-connection state, kept in uWS `getUserData()`; made by `createSocketData` only. */
export type SocketData = SocketIdentity & {
	connId: number;
	/** When the socket opened (epoch ms): a vendor socket awaiting its token has AUTH_GRACE_S from here. */
	openedAt: number;
	/** Bumped by every `auth` frame; only the latest one's answer is applied. */
	authGen: number;
	/** The H3 cells (topics) this socket watches. */
	cells: Set<string>;
	/** Its coarse demand cells, each with how many of `cells` lie inside (the coarse count holds each socket once). */
	coarse: CoarseWatch;
	/** Bumped by every watch; a snapshot answers only the latest one. */
	watchGen: number;
	/** Rate limit of `pos`: refills at POSITION_MAX_HZ up to one second's worth. */
	positions: Bucket;
	/** Budget of every other op (a watch costs by the cells it asks for). */
	ops: Bucket;
	lastRateLimitErrorAt: number;
	/** Bad and over-budget frames in the current abuse window. */
	badFrames: number;
	limitedFrames: number;
	badWindowStart: number;
	/** The latest watch not yet worked on (a newer one replaces it). */
	pendingWatch: WatchFrame | null;
	/** Slow consumer: since when it is behind (0 = not), and the latest undelivered frame per vendor. */
	slowSince: number;
	missed: Map<string, string>;
	/** Taken off its uWS topics while slow (fed from `missed` instead). */
	offTopics: boolean;
	/** The position this (customer's) socket shares with `here` (null: not sharing), and when it last went to geo. */
	here: { lat: number; lng: number } | null;
	hereSentAt: number;
	/** Closed by the server without taking the vendor offline (replaced by a newer socket, shutdown). */
	keepOnline: boolean;
	closed: boolean;
	/** Vendor sockets only, from their first accepted position (watchers never carry it). */
	interest: InterestState | null;
};

export type LiveSocket = WebSocket<SocketData>;

let connSeq = 0;

/** Budgets a socket starts with (from the config): `pos` frames per second, cost units per second of other ops. */
export type SocketBudgets = { positionMaxHz: number; opsPerS: number };

/** The state of a new socket: its identity, nothing watched, full buckets. */
export function createSocketData(identity: SocketIdentity, budgets: SocketBudgets, now = Date.now()): SocketData {
	return {
		connId: ++connSeq,
		openedAt: now,
		authGen: 0,
		user: identity.user,
		vendorId: identity.vendorId,
		awaitingVendorId: identity.awaitingVendorId,
		tokenExpiresAt: identity.tokenExpiresAt,
		address: identity.address,
		cells: new Set(),
		coarse: new Map(),
		watchGen: 0,
		positions: fullBucket(Math.max(1, budgets.positionMaxHz), now),
		ops: fullBucket(2 * budgets.opsPerS, now),
		lastRateLimitErrorAt: 0,
		badFrames: 0,
		limitedFrames: 0,
		badWindowStart: now,
		pendingWatch: null,
		slowSince: 0,
		missed: new Map(),
		offTopics: false,
		here: null,
		hereSentAt: 0,
		keepOnline: false,
		closed: false,
		interest: null,
	};
}
