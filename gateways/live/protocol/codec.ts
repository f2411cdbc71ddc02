import { quote } from "../../../lib/errors.ts";
import { isValidBBox, MAX_RADIUS_M } from "../../../lib/geo.ts";
import { jsonNestsDeeperThan } from "../../../lib/json.ts";
import type { Position } from "../../../lib/position.ts";
import { isCellAtRes } from "../cells.ts";
import { ERROR_CODES, type ErrorCode } from "./codes.ts";
import type { AlertFrame, ClientFrame, ErrorFrame, HereFrame, VendorPositionView, WatchFrame } from "./frames.ts";

const bad = (message: string, code: ErrorCode = ERROR_CODES.BAD_REQUEST): ErrorFrame => ({ op: "error", code, message });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Deepest nesting a frame of the protocol needs is 2 (`near`, `cells`); a little room beyond. */
export const MAX_FRAME_DEPTH = 4;
/** Longest token an `auth` frame may carry (Clerk session tokens are well under 2 KB). */
export const MAX_TOKEN_LENGTH = 8_192;

/**
 * Parses one inbound frame. Never throws: anything that is not a well-formed frame of the
 * protocol comes back as an error frame to send to the client.
 */
export function parseFrame(data: ArrayBuffer, isBinary: boolean, opts: { res: number; maxCells: number }): ClientFrame | ErrorFrame {
	if (isBinary) return bad("Frames must be JSON text");
	const bytes = new Uint8Array(data);
	if (jsonNestsDeeperThan(bytes, MAX_FRAME_DEPTH)) return bad(`Frame nests deeper than ${MAX_FRAME_DEPTH} levels`);
	let msg: unknown;
	try {
		msg = JSON.parse(decoder.decode(bytes));
	} catch {
		return bad("Frame is not valid JSON");
	}
	if (!isObject(msg) || typeof msg.op !== "string") return bad('Frame must be a JSON object with a string "op"');
	switch (msg.op) {
		case "ping":
			return { op: "ping" };
		case "pos":
			return { op: "pos", lat: msg.lat, lng: msg.lng, ts: msg.ts, acc: msg.acc, hdg: msg.hdg, spd: msg.spd };
		case "watch":
			return parseWatch(msg, opts);
		case "auth":
			if (typeof msg.token !== "string" || msg.token.length === 0 || msg.token.length > MAX_TOKEN_LENGTH)
				return bad(`auth needs a token: a string of at most ${MAX_TOKEN_LENGTH} characters`);
			return { op: "auth", token: msg.token };
		case "here":
			return parseHere(msg);
		default:
			return bad(`Unknown op ${quote(msg.op)}`);
	}
}

function parseWatch(msg: Record<string, unknown>, { res, maxCells }: { res: number; maxCells: number }): WatchFrame | ErrorFrame {
	const given = ["cells", "bbox", "near"].filter(k => msg[k] !== undefined);
	if (given.length !== 1) return bad("watch needs exactly one of cells, bbox or near");
	if (msg.cells !== undefined) {
		if (!Array.isArray(msg.cells)) return bad("cells must be an array of H3 cell ids");
		if (msg.cells.length > maxCells) return bad(`At most ${maxCells} cells may be watched`, ERROR_CODES.TOO_MANY_CELLS);
		const invalid = msg.cells.findIndex(c => !isCellAtRes(c, res));
		if (invalid >= 0) return bad(`cells[${invalid}] must be an H3 cell id at resolution ${res}`);
		return { op: "watch", cells: [...new Set(msg.cells as string[])] };
	}
	if (msg.bbox !== undefined) {
		if (!isValidBBox(msg.bbox))
			return bad(
				"bbox must be [west, south, east, north]: lng in [-180, 180] (west > east crosses the antimeridian), lat in [-90, 90], south < north"
			);
		return { op: "watch", bbox: msg.bbox };
	}
	const near = msg.near;
	if (!isObject(near) || !finite(near.lat) || !finite(near.lng) || !finite(near.radius))
		return bad("near must be { lat, lng, radius } with finite numbers");
	if (near.lat < -90 || near.lat > 90 || near.lng < -180 || near.lng > 180)
		return bad("near.lat must be in [-90, 90] and near.lng in [-180, 180]");
	if (near.radius <= 0 || near.radius > MAX_RADIUS_M) return bad(`near.radius must be in (0, ${MAX_RADIUS_M}] metres`);
	return { op: "watch", near: { lat: near.lat, lng: near.lng, radius: near.radius } };
}

/** `{"op":"here","lat","lng"}` (lat/lng in range, like a position's) or `{"op":"here","stop":true}`. */
function parseHere(msg: Record<string, unknown>): HereFrame | ErrorFrame {
	if (msg.stop === true) return { op: "here", stop: true };
	const { lat, lng } = msg;
	if (!finite(lat) || lat < -90 || lat > 90) return bad("lat must be a finite number in [-90, 90]");
	if (!finite(lng) || lng < -180 || lng > 180) return bad("lng must be a finite number in [-180, 180]");
	return { op: "here", lat, lng };
}

/** Outbound frames: each is serialised once and the same string goes to every receiver. */
export const encode = {
	pong: JSON.stringify({ op: "pong" }),
	error: (code: ErrorCode, message: string): string => JSON.stringify({ op: "error", code, message }),
	/** Built by hand (the hottest serialisation): the same text as JSON.stringify of { op, ...view }. */
	pos(v: VendorPositionView): string {
		let text = `{"op":"pos","id":${JSON.stringify(v.id)},"lat":${v.lat},"lng":${v.lng},"cell":${JSON.stringify(v.cell)},"ts":${v.ts}`;
		if (v.hdg !== undefined) text += `,"hdg":${v.hdg}`;
		if (v.spd !== undefined) text += `,"spd":${v.spd}`;
		return `${text}}`;
	},
	gone: (id: string, cell: string): string => JSON.stringify({ op: "gone", id, cell }),
	authed: (user: string, expiresAt: number): string => JSON.stringify({ op: "authed", user, exp: Math.floor(expiresAt / 1000) }),
	snapshot: (cells: readonly string[], vendors: VendorPositionView[]): string => JSON.stringify({ op: "snapshot", cells, vendors }),
	alert: (frame: AlertFrame): string => JSON.stringify(frame),
	interest: (watchers: number, suggestedHz: number): string => JSON.stringify({ op: "interest", watchers, suggestedHz }),
};

/** The watcher-facing fields of a stored position (accuracy stays private to the vendor). */
export function positionView(id: string, p: Position, cell: string): VendorPositionView {
	const view: VendorPositionView = { id, lat: p.lat, lng: p.lng, cell, ts: p.ts };
	if (p.hdg !== undefined) view.hdg = p.hdg;
	if (p.spd !== undefined) view.spd = p.spd;
	return view;
}
