import { describe, expect, it } from "vitest";
import { latLngToCell, getResolution } from "h3-js";
import { encode, parseFrame } from "../../../../../gateways/live/protocol/codec.ts";
import { cellsForBBox, cellsNear, routingCell, TooManyCellsError } from "../../../../../gateways/live/cells.ts";
import { distanceM } from "../../../../../lib/geo.ts";
import { checkPosition, MAX_FUTURE_SKEW_MS } from "../../../../../lib/position.ts";
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
});

describe("position validation", () => {
	const now = 1_800_000_000_000;
	const maxAge = 60_000;
	it("accepts a full position and defaults ts to now", () => {
		expect(checkPosition({ lat: 52.5, lng: 13.4, acc: 5, hdg: 359.9, spd: 3 }, now, maxAge)).toEqual({
			ok: true,
			position: { lat: 52.5, lng: 13.4, ts: now, acc: 5, hdg: 359.9, spd: 3 },
		});
		expect(checkPosition({ lat: -90, lng: 180, ts: now - 1000 }, now, maxAge)).toMatchObject({ ok: true, position: { ts: now - 1000 } });
	});
	it("refuses non-finite, out-of-range and badly timed input", () => {
		const bad: [object, string][] = [
			[{ lat: NaN, lng: 0 }, "lat"],
			[{ lat: "1", lng: 0 }, "lat"],
			[{ lat: 91, lng: 0 }, "lat"],
			[{ lat: 0, lng: -180.1 }, "lng"],
			[{ lat: 0, lng: Infinity }, "lng"],
			[{ lat: 0, lng: 0, ts: now + MAX_FUTURE_SKEW_MS + 1 }, "ts"],
			[{ lat: 0, lng: 0, ts: now - maxAge - 1 }, "ts"],
			[{ lat: 0, lng: 0, ts: 1.5 }, "ts"],
			[{ lat: 0, lng: 0, acc: -1 }, "acc"],
			[{ lat: 0, lng: 0, hdg: 360 }, "hdg"],
			[{ lat: 0, lng: 0, spd: 1000 }, "spd"],
			[{ lat: 0, lng: 0, spd: "fast" }, "spd"],
		];
		for (const [input, field] of bad) expect(checkPosition(input, now, maxAge), JSON.stringify(input)).toMatchObject({ ok: false, field });
	});
	it("measures great-circle distance", () => {
		expect(distanceM(0, 0, 0, 1)).toBeCloseTo(111_226, -1);
		expect(distanceM(52.52, 13.4, 52.52, 13.4)).toBe(0);
	});
});

describe("H3 watch sets", () => {
	it("covers a bbox with overlapping cells at the resolution, and caches it", () => {
		const bbox: [number, number, number, number] = [13.3, 52.5, 13.5, 52.55];
		const cells = cellsForBBox(bbox, 8, 2000);
		expect(cells.length).toBeGreaterThan(100);
		expect(cells.every(c => getResolution(c) === 8)).toBe(true);
		for (const [lat, lng] of [
			[52.5, 13.3],
			[52.55, 13.5],
			[52.525, 13.4],
		])
			expect(cells).toContain(latLngToCell(lat!, lng!, 8));
		expect(cellsForBBox(bbox, 8, 2000)).toBe(cells);
	});
	it("covers a bbox across the antimeridian on both sides", () => {
		const cells = cellsForBBox([179.9, -17, -179.9, -16.9], 8, 2000);
		expect(cells).toContain(latLngToCell(-16.95, 179.95, 8));
		expect(cells).toContain(latLngToCell(-16.95, -179.95, 8));
		expect(cells).not.toContain(latLngToCell(-16.95, 0, 8));
		expect(new Set(cells).size).toBe(cells.length);
		expect(() => cellsForBBox([10, -17, 9, -16.9], 8, 2000)).toThrow(TooManyCellsError);
	});

	it("refuses an area over the cap before computing it", () => {
		const started = performance.now();
		expect(() => cellsForBBox([-10, 30, 30, 60], 8, 2000)).toThrow(TooManyCellsError);
		expect(performance.now() - started).toBeLessThan(50);
		expect(() => cellsNear(52, 13, 50_000, 8, 2000)).toThrow(TooManyCellsError);
	});
	it("covers a circle: every point inside lies in a returned cell", () => {
		const cells = new Set(cellsNear(52.52, 13.4, 1_000, 8, 2000));
		for (let i = 0; i < 200; i++) {
			const angle = (i / 200) * 2 * Math.PI;
			const r = 990 * Math.sqrt((i % 10) / 9);
			const lat = 52.52 + (r * Math.cos(angle)) / 111_320;
			const lng = 13.4 + (r * Math.sin(angle)) / (111_320 * Math.cos((52.52 * Math.PI) / 180));
			expect(cells.has(latLngToCell(lat, lng, 8))).toBe(true);
		}
	});
	it("groups cells under a coarser routing cell", () => {
		const cell = latLngToCell(52.52, 13.4, 8);
		expect(getResolution(routingCell(cell, 8))).toBe(5);
		expect(routingCell(latLngToCell(52.5201, 13.4001, 8), 8)).toBe(routingCell(cell, 8));
	});
});
