import { describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { encode, MAX_FRAME_DEPTH, MAX_TOKEN_LENGTH, parseFrame } from "../../../../../gateways/live/protocol/codec.ts";
import { CLOSE_CODES, ERROR_CODES } from "../../../../../gateways/live/protocol/codes.ts";

const opts = { res: 8, maxCells: 2000 };
const frame = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v)).buffer as ArrayBuffer;

describe("live protocol codec", () => {
	it("parses watch by cells, bbox and near", () => {
		const cell = latLngToCell(52.52, 13.4, 8);
		expect(parseFrame(frame({ op: "watch", cells: [cell, cell] }), false, opts)).toEqual({ op: "watch", cells: [cell] });
		expect(parseFrame(frame({ op: "watch", bbox: [13.3, 52.5, 13.5, 52.55] }), false, opts)).toEqual({
			op: "watch",
			bbox: [13.3, 52.5, 13.5, 52.55],
		});
		expect(parseFrame(frame({ op: "watch", near: { lat: 52.5, lng: 13.4, radius: 500 } }), false, opts)).toEqual({
			op: "watch",
			near: { lat: 52.5, lng: 13.4, radius: 500 },
		});
		expect(parseFrame(frame({ op: "ping" }), false, opts)).toEqual({ op: "ping" });
	});

	it("parses here frames: lat/lng in range, or stop; anything else is BAD_REQUEST", () => {
		expect(parseFrame(frame({ op: "here", lat: 52.5, lng: 13.4, extra: 1 }), false, opts)).toEqual({ op: "here", lat: 52.5, lng: 13.4 });
		expect(parseFrame(frame({ op: "here", stop: true }), false, opts)).toEqual({ op: "here", stop: true });
		for (const bad of [{}, { lat: 91, lng: 0 }, { lat: 0, lng: -181 }, { lat: "52", lng: 13 }, { lat: 52 }, { stop: "yes" }])
			expect(parseFrame(frame({ op: "here", ...bad }), false, opts)).toMatchObject({ op: "error", code: ERROR_CODES.BAD_REQUEST });
	});

	it("parses auth frames with a bounded token, and answers them with the token's exp in seconds", () => {
		expect(parseFrame(frame({ op: "auth", token: "a.b.c" }), false, opts)).toEqual({ op: "auth", token: "a.b.c" });
		for (const token of [undefined, "", 42, "x".repeat(MAX_TOKEN_LENGTH + 1)])
			expect(parseFrame(frame({ op: "auth", token }), false, opts)).toMatchObject({ op: "error", code: ERROR_CODES.BAD_REQUEST });
		expect(JSON.parse(encode.authed("user_1", 1_800_000_000_999))).toEqual({ op: "authed", user: "user_1", exp: 1_800_000_000 });
	});

	it("answers every malformed frame with a coded error, never a throw", () => {
		const cases: [unknown, string][] = [
			["{not json", ERROR_CODES.BAD_REQUEST],
			["[1,2]", ERROR_CODES.BAD_REQUEST],
			[{ op: 42 }, ERROR_CODES.BAD_REQUEST],
			[{ op: "dance" }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch" }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", cells: ["nope"] }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", cells: [latLngToCell(1, 1, 7)] }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", cells: Array.from({ length: 2001 }, () => "x") }, ERROR_CODES.TOO_MANY_CELLS],
			[{ op: "watch", bbox: [13.3, 52.55, 13.5, 52.5] }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", bbox: [13.3, 52.5, 13.3, 52.55] }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", bbox: [13.3, 52.5, 181, 52.55] }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", bbox: [13.3, 52.5, 13.5, 95] }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", near: { lat: 52, lng: 13, radius: -1 } }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", near: { lat: "52", lng: 13, radius: 10 } }, ERROR_CODES.BAD_REQUEST],
			[{ op: "watch", bbox: [0, 0, 1, 1], near: { lat: 0, lng: 0, radius: 1 } }, ERROR_CODES.BAD_REQUEST],
		];
		for (const [input, code] of cases) {
			const out = parseFrame(frame(input), false, opts);
			expect(out, JSON.stringify(input).slice(0, 60)).toMatchObject({ op: "error", code });
		}
		expect(parseFrame(new Uint8Array([0xff, 0xfe]).buffer, false, opts)).toMatchObject({ op: "error" });
		expect(parseFrame(frame({ op: "ping" }), true, opts)).toMatchObject({ op: "error", code: "BAD_REQUEST" });
	});

	it("serialises outbound frames with op first and no accuracy", () => {
		const pos = encode.pos({ id: "v1", lat: 1, lng: 2, cell: "c", ts: 3, hdg: 90 });
		expect(pos.startsWith('{"op":"pos"')).toBe(true);
		expect(JSON.parse(pos)).toEqual({ op: "pos", id: "v1", lat: 1, lng: 2, cell: "c", ts: 3, hdg: 90 });
		for (const view of [
			{ id: 'v"\\\u2028x', lat: -33.868820000000014, lng: 1e-7, cell: "88be0e35cbfffff", ts: 1_763_700_000_123, hdg: 0, spd: 0.5 },
			{ id: "v2", lat: -0, lng: 180, cell: "8800000001fffff", ts: 0 },
			{ id: "v3", lat: 12.5, lng: -0.000001, cell: "c", ts: 1, spd: 149.99999999999997 },
		]) {
			expect(encode.pos(view)).toBe(JSON.stringify({ op: "pos", ...view }));
		}
		expect(JSON.parse(encode.gone("v1", "c"))).toEqual({ op: "gone", id: "v1", cell: "c" });
		expect(JSON.parse(encode.error("RATE_LIMITED", "slow down"))).toEqual({ op: "error", code: "RATE_LIMITED", message: "slow down" });
	});

	it("keeps close codes distinct and in the 4xxx range", () => {
		const codes = Object.values(CLOSE_CODES);
		expect(new Set(codes).size).toBe(codes.length);
		for (const c of codes) expect(c).toBeGreaterThanOrEqual(4000);
	});

	it("refuses frames nested deeper than the protocol needs before parsing them, and never echoes their content", () => {
		const deep = `{"op":"watch","cells":${"[".repeat(20_000)}"x"${"]".repeat(20_000)}}`;
		expect(parseFrame(frame(deep), false, opts)).toEqual({
			op: "error",
			code: "BAD_REQUEST",
			message: `Frame nests deeper than ${MAX_FRAME_DEPTH} levels`,
		});
		const nested = parseFrame(frame({ op: "watch", cells: [[["deep"]]] }), false, opts);
		expect(nested).toEqual({ op: "error", code: "BAD_REQUEST", message: "cells[0] must be an H3 cell id at resolution 8" });
		const unknown = parseFrame(frame({ op: `${"x".repeat(500)}\u0000` }), false, opts) as { message: string };
		expect(unknown.message.length).toBeLessThan(60);
		expect(parseFrame(frame('{"op":"watch","near":{"lat":1e309,"lng":0,"radius":10}}'), false, opts)).toMatchObject({
			code: "BAD_REQUEST",
		});
		expect(parseFrame(frame('{"op":"ping","__proto__":{"polluted":true}}'), false, opts)).toEqual({ op: "ping" });
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});
});
