/**
 * Every close code and error code of the live socket protocol, in one place (docs/live-protocol.md
 * documents the same tables; a test keeps them equal). Dependency-free: the engine, the SDK and
 * the map page import it.
 */

/** Codes of `{"op":"error","code",...}` frames. */
export const ERROR_CODES = {
	BAD_REQUEST: "BAD_REQUEST",
	UNAUTHORIZED: "UNAUTHORIZED",
	FORBIDDEN: "FORBIDDEN",
	RATE_LIMITED: "RATE_LIMITED",
	TOO_MANY_CELLS: "TOO_MANY_CELLS",
	/** A dependency (the geo store) did not answer; retry the request. */
	UNAVAILABLE: "UNAVAILABLE",
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** WebSocket close codes (4xxx = application codes). */
export const CLOSE_CODES = {
	/** Server shutting down or restarting: reconnect (to another node). */
	RECONNECT: 4000,
	/** The socket's user no longer exists (deleted in Clerk). */
	UNAUTHORIZED: 4001,
	/** The token expired and no fresh one came within AUTH_GRACE_S (or a vendor socket never sent one): reconnect with a fresh token. */
	TOKEN_EXPIRED: 4003,
	/** Repeated bad frames or other abuse. */
	POLICY: 4008,
	/** The client did not read fast enough and stayed over the backpressure limit. */
	SLOW_CONSUMER: 4009,
	/** The vendor may no longer broadcast (paused, suspended, subscription ended). */
	BROADCAST_REVOKED: 4010,
	/** Disconnected by an operator (`live.kick`) or replaced by a newer socket of the same vendor. */
	KICKED: 4012,
} as const;
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/** Standard (RFC 6455) close codes the gateway sends. */
export const STANDARD_CLOSE_CODES = {
	/** The server failed while handling this socket: it is closed, every other socket goes on. */
	INTERNAL_ERROR: 1011,
} as const;

/** What a client does after a close: reconnect with backoff, reconnect at once with a fresh token, or stop. */
export type CloseAction = "retry" | "reauthenticate" | "give up";

/** The `client` column of the close code tables in docs/live-protocol.md (a test keeps them equal). */
export const CLOSE_ACTIONS: Record<number, CloseAction> = {
	[CLOSE_CODES.RECONNECT]: "retry",
	[CLOSE_CODES.UNAUTHORIZED]: "give up",
	[CLOSE_CODES.TOKEN_EXPIRED]: "reauthenticate",
	[CLOSE_CODES.POLICY]: "retry",
	[CLOSE_CODES.SLOW_CONSUMER]: "retry",
	[CLOSE_CODES.BROADCAST_REVOKED]: "give up",
	[CLOSE_CODES.KICKED]: "give up",
	[STANDARD_CLOSE_CODES.INTERNAL_ERROR]: "retry",
};

/** Any other code (1006 for a lost connection or a refused upgrade, 1001, 1009…) is a network failure: retry. */
export const closeAction = (code: number): CloseAction => CLOSE_ACTIONS[code] ?? "retry";
