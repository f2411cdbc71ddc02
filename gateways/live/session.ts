import type { Logger, ServiceBroker } from "moleculer";
import type { WebSocketBehavior } from "uWebSockets.js";
import type { Config } from "../../config/index.ts";
import { checkPosition } from "../../lib/position.ts";
import type {
	InCellsParams,
	SetOfflineParams,
	SetOfflineResult,
	StoredPosition,
	UpdateManyItemResult,
	UpdateManyParams,
} from "../../services/geo/contract.ts";
import { cellsForBBox, cellsNear, TooManyCellsError } from "./cells.ts";
import type { LiveHub } from "./hub.ts";
import { encode, parseFrame, positionView } from "./protocol/codec.ts";
import { CLOSE_CODES, ERROR_CODES, type ErrorCode } from "./protocol/codes.ts";
import type { PosFrame, WatchFrame } from "./protocol/frames.ts";
import type { LiveSocket, SocketData } from "./socket.ts";
import { PositionWriter, type WriteOutcome } from "./writer.ts";

/** Bad frames tolerated per window before the socket is closed (POLICY). */
export const ABUSE_MAX_BAD_FRAMES = 20;
export const ABUSE_WINDOW_MS = 10_000;
const RATE_LIMIT_ERROR_EVERY_MS = 1_000;

export type SessionDeps = { broker: ServiceBroker; config: Config; hub: LiveHub; logger: Logger };
export type SessionHandlers = Required<Pick<WebSocketBehavior<SocketData>, "open" | "message" | "drain" | "dropped" | "close">>;

/**
 * What open sockets do: watch sets and their snapshots, vendor positions (validated, rate
 * limited, group-committed), pings, abuse strikes, and the vendor going offline on close.
 */
export class LiveSessions {
	readonly #deps: SessionDeps;
	readonly #writer: PositionWriter;

	constructor(deps: SessionDeps) {
		this.#deps = deps;
		this.#writer = new PositionWriter({
			write: batch => deps.broker.call<UpdateManyItemResult[], UpdateManyParams>("geo.updateMany", { positions: batch }),
			onOutcome: (vendorId, outcome) => this.#written(vendorId, outcome),
			logger: deps.logger,
		});
	}

	/** The uWS callbacks of an open socket. */
	handlers(): SessionHandlers {
		const { hub } = this.#deps;
		return {
			open: ws => hub.add(ws),
			message: (ws, data, isBinary) => this.#message(ws, data, isBinary),
			dropped: (ws, message) => hub.slow.onDropped(ws, Buffer.from(message).toString("utf8")),
			drain: ws => hub.slow.catchUp(ws),
			close: ws => {
				const { vendorId, keepOnline } = ws.getUserData();
				hub.remove(ws);
				if (vendorId && !keepOnline) void this.#takeOffline(vendorId);
			},
		};
	}

	#message(ws: LiveSocket, data: ArrayBuffer, isBinary: boolean): void {
		const { config, logger } = this.#deps;
		const frame = parseFrame(data, isBinary, { res: config.h3Res, maxCells: config.watchMaxCells });
		switch (frame.op) {
			case "error":
				this.#strike(ws, frame.code, frame.message);
				return;
			case "ping":
				ws.send(encode.pong);
				return;
			case "pos":
				this.#position(ws, frame);
				return;
			case "watch":
				this.#watch(ws, frame).catch(err => {
					logger.error({ err: (err as Error).message }, "Watch failed");
					this.#sendError(ws, ERROR_CODES.BAD_REQUEST, "Watch failed");
				});
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

	#watchCells(frame: WatchFrame): readonly string[] {
		const { h3Res, watchMaxCells } = this.#deps.config;
		if ("cells" in frame) return frame.cells;
		if ("bbox" in frame) return cellsForBBox(frame.bbox, h3Res, watchMaxCells);
		return cellsNear(frame.near.lat, frame.near.lng, frame.near.radius, h3Res, watchMaxCells);
	}

	async #watch(ws: LiveSocket, frame: WatchFrame): Promise<void> {
		const { broker, hub, logger } = this.#deps;
		let cells: readonly string[];
		try {
			cells = this.#watchCells(frame);
		} catch (err) {
			if (err instanceof TooManyCellsError) return this.#strike(ws, ERROR_CODES.TOO_MANY_CELLS, err.message);
			throw err;
		}
		const ud = ws.getUserData();
		const gen = ++ud.watchGen;
		// Subscribe first, then read the snapshot: nothing is missed in between (clients keep the newest ts per vendor).
		hub.setWatch(ws, cells);
		let vendors: StoredPosition[];
		try {
			vendors = cells.length === 0 ? [] : await broker.call<StoredPosition[], InCellsParams>("geo.inCells", { cells });
		} catch (err) {
			// The watch set stays in place (updates flow); the client retries the watch for its snapshot.
			logger.warn({ err: (err as Error).message }, "Snapshot failed");
			if (!ud.closed && ud.watchGen === gen) this.#sendError(ws, ERROR_CODES.UNAVAILABLE, "Snapshot unavailable; send the watch again");
			return;
		}
		if (ud.closed || ud.watchGen !== gen) return;
		const snapshot = encode.snapshot(
			cells,
			vendors.map(v => positionView(v.vendorId, v, v.cell))
		);
		ws.cork(() => {
			// A snapshot is all-or-nothing: a watcher that cannot take one is too far behind.
			if (ws.send(snapshot) === 2) hub.close(ws, CLOSE_CODES.SLOW_CONSUMER, "slow consumer");
		});
	}

	/** Takes a vendor frame: validate, rate limit, then queue it for the node's next geo batch (latest wins). */
	#position(ws: LiveSocket, frame: PosFrame): void {
		const { config, hub } = this.#deps;
		const ud = ws.getUserData();
		if (!ud.vendorId) {
			if (ud.user) this.#strike(ws, ERROR_CODES.FORBIDDEN, "Only a vendor socket (?vendor=<id>) may send positions");
			else this.#strike(ws, ERROR_CODES.UNAUTHORIZED, "Sign in: positions need a vendor socket (?token=…&vendor=<id>)");
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
		ud.tokens = Math.min(Math.max(1, hz), ud.tokens + ((now - ud.tokensAt) / 1000) * hz);
		ud.tokensAt = now;
		if (ud.tokens < 1) {
			hub.countPosition("rate_limited");
			if (now - ud.lastRateLimitErrorAt > RATE_LIMIT_ERROR_EVERY_MS) {
				ud.lastRateLimitErrorAt = now;
				this.#sendError(ws, ERROR_CODES.RATE_LIMITED, `At most ${hz} positions per second; extra frames are dropped`);
			}
			return;
		}
		ud.tokens -= 1;
		this.#writer.enqueue(ud.vendorId, check.position);
	}

	/** A position left the writer: counted once; stored ones are streamed; invalid ones told to the vendor. */
	#written(vendorId: string, outcome: WriteOutcome): void {
		const { hub } = this.#deps;
		hub.countPosition(outcome.kind);
		if (outcome.kind === "stored") hub.publish(outcome.change);
		if (outcome.kind !== "invalid") return;
		const ws = hub.vendorSockets.get(vendorId);
		if (ws) this.#sendError(ws, ERROR_CODES.BAD_REQUEST, outcome.message);
	}

	/** After the vendor's accepted positions are written, unless a newer socket of the same vendor took over; geo announces it. */
	async #takeOffline(vendorId: string): Promise<void> {
		const { broker, hub, logger } = this.#deps;
		await this.#writer.settled(vendorId);
		if (hub.vendorSockets.has(vendorId)) return;
		try {
			await broker.call<SetOfflineResult, SetOfflineParams>("geo.setOffline", { vendorId });
		} catch (err) {
			logger.warn({ err: (err as Error).message, vendorId }, "Could not take a vendor offline; the expiry sweep will");
		}
	}
}
