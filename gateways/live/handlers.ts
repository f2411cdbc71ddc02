import type { HttpRequest, HttpResponse, us_socket_context_t, WebSocketBehavior } from "uWebSockets.js";
import { Errors, type Logger, type ServiceBroker } from "moleculer";
import type { Config } from "../../config/index.ts";
import { bearerToken, type TokenVerifier } from "../../lib/auth.ts";
import { CLOSE_CODES, ERROR_CODES, type ErrorCode } from "./protocol/codes.ts";
import { encode, parseFrame, positionView, type WatchFrame } from "./protocol/codec.ts";
import { cellsForBBox, cellsNear, TooManyCellsError } from "./cells.ts";
import { checkPosition } from "../../lib/position.ts";
import type { StoredPosition } from "../../services/geo/store.ts";
import { LiveHub, MAX_BACKPRESSURE_BYTES, type LiveSocket, type SocketData, type SocketUser } from "./hub.ts";
import { PositionWriter } from "./writer.ts";

/** Largest inbound frame; a full watch set of cell ids fits, anything bigger is closed by uWS (1009). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Bad frames tolerated per window before the socket is closed (POLICY). */
export const ABUSE_MAX_BAD_FRAMES = 20;
export const ABUSE_WINDOW_MS = 10_000;
const RATE_LIMIT_ERROR_EVERY_MS = 1_000;

export type LiveDeps = { broker: ServiceBroker; config: Config; verifyToken: TokenVerifier; hub: LiveHub; logger: Logger };

type UpgradeFailure = { status: number; code: string; message: string };
const STATUS_TEXT: Record<number, string> = { 400: "400 Bad Request", 401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found", 503: "503 Service Unavailable" };

function failure(err: unknown): UpgradeFailure {
	const e = err as Errors.MoleculerError;
	const status = typeof e.code === "number" && STATUS_TEXT[e.code] ? e.code : 503;
	return { status, code: typeof e.type === "string" ? e.type : "SERVICE_UNAVAILABLE", message: status === 503 ? "Service unavailable" : e.message };
}

/** Who is connecting: anonymous watcher, a user, or the owner of a vendor that may broadcast now. */
async function authenticate(deps: LiveDeps, token: string | undefined, vendorId: string | undefined): Promise<Pick<SocketData, "user" | "vendorId">> {
	if (vendorId !== undefined && (vendorId.length === 0 || vendorId.length > 128)) {
		throw new Errors.MoleculerClientError("vendor must be a vendor id", 400, "BAD_REQUEST");
	}
	if (!token) {
		if (vendorId !== undefined) throw new Errors.MoleculerClientError("A vendor socket needs the owner's token", 401, "NO_TOKEN");
		return { user: null, vendorId: null };
	}
	const verified = await deps.verifyToken(token);
	const user = await deps.broker.call<SocketUser, { id: string; claims: unknown }>("users.resolve", { id: verified.sub, claims: verified.claims });
	if (vendorId === undefined) return { user: { id: user.id, role: user.role }, vendorId: null };
	await deps.broker.call("vendors.authorizeBroadcast", { id: vendorId }, { meta: { user: { id: user.id, role: user.role } } });
	return { user: { id: user.id, role: user.role }, vendorId };
}

let connSeq = 0;

/** The uWS behaviour of `/live`: every callback delegates here; state lives in getUserData(). */
export function liveBehavior(deps: LiveDeps): WebSocketBehavior<SocketData> {
	const { hub, config, broker, logger } = deps;

	const sendError = (ws: LiveSocket, code: ErrorCode, message: string) => {
		if (!ws.getUserData().closed) ws.send(encode.error(code, message));
	};

	const writer = new PositionWriter({
		broker,
		hub,
		logger,
		onInvalid(vendorId, message) {
			const ws = hub.vendorSockets.get(vendorId);
			if (ws) sendError(ws, ERROR_CODES.BAD_REQUEST, message);
		},
	});

	/** Counts a bad frame; repeated abuse closes the socket. */
	const strike = (ws: LiveSocket, code: ErrorCode, message: string) => {
		const ud = ws.getUserData();
		const now = Date.now();
		if (now - ud.badWindowStart > ABUSE_WINDOW_MS) {
			ud.badWindowStart = now;
			ud.badFrames = 0;
		}
		if (++ud.badFrames > ABUSE_MAX_BAD_FRAMES) hub.close(ws, CLOSE_CODES.POLICY, "too many bad frames");
		else sendError(ws, code, message);
	};

	function watchCells(frame: WatchFrame): readonly string[] {
		if ("cells" in frame) return frame.cells;
		if ("bbox" in frame) return cellsForBBox(frame.bbox, config.h3Res, config.watchMaxCells);
		return cellsNear(frame.near.lat, frame.near.lng, frame.near.radius, config.h3Res, config.watchMaxCells);
	}

	async function watch(ws: LiveSocket, frame: WatchFrame): Promise<void> {
		let cells: readonly string[];
		try {
			cells = watchCells(frame);
		} catch (err) {
			if (err instanceof TooManyCellsError) return strike(ws, ERROR_CODES.TOO_MANY_CELLS, err.message);
			throw err;
		}
		const ud = ws.getUserData();
		const gen = ++ud.watchGen;
		// Subscribe first, then read the snapshot: nothing is missed in between (clients keep the newest ts per vendor).
		hub.setWatch(ws, cells);
		let vendors: StoredPosition[];
		try {
			vendors = cells.length === 0 ? [] : await broker.call<StoredPosition[], { cells: readonly string[] }>("geo.inCells", { cells });
		} catch (err) {
			// The watch set stays in place (updates flow); the client retries the watch for its snapshot.
			logger.warn({ err: (err as Error).message }, "Snapshot failed");
			if (!ud.closed && ud.watchGen === gen) sendError(ws, ERROR_CODES.UNAVAILABLE, "Snapshot unavailable; send the watch again");
			return;
		}
		if (ud.closed || ud.watchGen !== gen) return;
		const snapshot = encode.snapshot(cells, vendors.map(v => positionView(v.vendorId, v, v.cell)));
		ws.cork(() => {
			// A snapshot is all-or-nothing: a watcher that cannot take one is too far behind.
			if (ws.send(snapshot) === 2) hub.close(ws, CLOSE_CODES.SLOW_CONSUMER, "slow consumer");
		});
	}

	/** Takes a vendor frame: validate, rate limit, then queue it for the node's next geo batch (latest wins). */
	function position(ws: LiveSocket, input: Parameters<typeof checkPosition>[0]): void {
		const ud = ws.getUserData();
		if (!ud.vendorId) {
			if (!ud.user) return strike(ws, ERROR_CODES.UNAUTHORIZED, "Sign in: positions need a vendor socket (?token=…&vendor=<id>)");
			return strike(ws, ERROR_CODES.FORBIDDEN, "Only a vendor socket (?vendor=<id>) may send positions");
		}
		const now = Date.now();
		const check = checkPosition(input, now, config.vendorOfflineAfterS * 1000);
		if (!check.ok) {
			hub.counters.positionsDropped++;
			return strike(ws, ERROR_CODES.BAD_REQUEST, check.message);
		}
		const hz = config.positionMaxHz;
		ud.tokens = Math.min(Math.max(1, hz), ud.tokens + ((now - ud.tokensAt) / 1000) * hz);
		ud.tokensAt = now;
		if (ud.tokens < 1) {
			hub.counters.positionsDropped++;
			if (now - ud.lastRateLimitErrorAt > RATE_LIMIT_ERROR_EVERY_MS) {
				ud.lastRateLimitErrorAt = now;
				sendError(ws, ERROR_CODES.RATE_LIMITED, `At most ${hz} positions per second; extra frames are dropped`);
			}
			return;
		}
		ud.tokens -= 1;
		writer.enqueue(ud.vendorId, check.position);
	}

	/** After the vendor's accepted positions are written, unless a newer socket of the same vendor took over. */
	async function takeOffline(vendorId: string): Promise<void> {
		await writer.settled(vendorId);
		if (hub.vendorSockets.has(vendorId)) return;
		try {
			const { wasOnline, cell } = await broker.call<{ wasOnline: boolean; cell: string | null }, { vendorId: string }>("geo.setOffline", { vendorId });
			if (wasOnline && cell) hub.publishUpdate(vendorId, cell, undefined, null);
		} catch (err) {
			logger.warn({ err: (err as Error).message, vendorId }, "Could not take a vendor offline; the expiry sweep will");
		}
	}

	return {
		maxPayloadLength: MAX_FRAME_BYTES,
		maxBackpressure: MAX_BACKPRESSURE_BYTES,
		closeOnBackpressureLimit: false,
		idleTimeout: 60,
		sendPingsAutomatically: true,

		upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
			const key = req.getHeader("sec-websocket-key");
			const protocol = req.getHeader("sec-websocket-protocol");
			const extensions = req.getHeader("sec-websocket-extensions");
			if (hub.draining) {
				res.writeStatus(STATUS_TEXT[503]!).writeHeader("Retry-After", "1").end("Shutting down");
				return;
			}
			const token = req.getQuery("token") || bearerToken(req.getHeader("authorization"));
			const vendorId = req.getQuery("vendor");
			let aborted = false;
			res.onAborted(() => (aborted = true));
			authenticate(deps, token, vendorId).then(
				identity => {
					if (aborted) return;
					if (hub.draining) {
						res.cork(() => res.writeStatus(STATUS_TEXT[503]!).end("Shutting down"));
						return;
					}
					const data: SocketData = {
						connId: ++connSeq,
						...identity,
						cells: new Set(),
						watchGen: 0,
						tokens: Math.max(1, config.positionMaxHz),
						tokensAt: Date.now(),
						lastRateLimitErrorAt: 0,
						badFrames: 0,
						badWindowStart: Date.now(),
						slowSince: 0,
						missed: new Map(),
						offTopics: false,
						keepOnline: false,
						closed: false,
					};
					res.cork(() => res.upgrade(data, key, protocol, extensions, context));
				},
				err => {
					if (aborted) return;
					const f = failure(err);
					res.cork(() => {
						res.writeStatus(STATUS_TEXT[f.status]!).writeHeader("Content-Type", "application/json").end(JSON.stringify({ code: f.code, message: f.message }));
					});
				}
			);
		},

		open(ws) {
			const ud = ws.getUserData();
			hub.sockets.add(ws);
			if (!ud.vendorId) return;
			const previous = hub.vendorSockets.get(ud.vendorId);
			hub.vendorSockets.set(ud.vendorId, ws);
			if (previous) {
				previous.getUserData().keepOnline = true;
				hub.close(previous, CLOSE_CODES.KICKED, "replaced by a newer connection");
			}
		},

		message(ws, data, isBinary) {
			const frame = parseFrame(data, isBinary, { res: config.h3Res, maxCells: config.watchMaxCells });
			switch (frame.op) {
				case "error":
					return strike(ws, frame.code, frame.message);
				case "ping":
					ws.send(encode.pong);
					return;
				case "pos":
					return position(ws, frame);
				case "watch":
					watch(ws, frame).catch(err => {
						logger.error({ err: (err as Error).message }, "Watch failed");
						sendError(ws, ERROR_CODES.BAD_REQUEST, "Watch failed");
					});
			}
		},

		dropped(ws, message) {
			hub.onDropped(ws, Buffer.from(message).toString("utf8"));
		},

		drain(ws) {
			hub.catchUp(ws);
		},

		close(ws) {
			const ud = ws.getUserData();
			hub.remove(ws);
			if (ud.vendorId && !ud.keepOnline) void takeOffline(ud.vendorId);
		},
	};
}
