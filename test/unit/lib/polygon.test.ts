import { describe, expect, it } from "vitest";
import { distanceM } from "../../../lib/geo.ts";
import { distanceToRingM, distinctPointCount, openRing, pointInRing, polygonAreaKm2, selfIntersects } from "../../../lib/polygon.ts";

/** About 680 m × 1110 m in Berlin Mitte, [lng, lat]. */
const SQUARE: [number, number][] = [
	[13.4, 52.5],
	[13.41, 52.5],
	[13.41, 52.51],
	[13.4, 52.51],
];

describe("polygons", () => {
	it("opens a closed ring and drops repeated points", () => {
		expect(openRing([...SQUARE, SQUARE[0]!])).toEqual(SQUARE);
		expect(openRing([SQUARE[0]!, SQUARE[0]!, SQUARE[1]!, SQUARE[2]!])).toEqual(SQUARE.slice(0, 3));
		expect(distinctPointCount([SQUARE[0]!, SQUARE[1]!, SQUARE[0]!])).toBe(2);
	});

	it("measures the geodesic area in km²", () => {
		const width = distanceM(52.505, 13.4, 52.505, 13.41) / 1000;
		const height = distanceM(52.5, 13.4, 52.51, 13.4) / 1000;
		expect(polygonAreaKm2(SQUARE)).toBeCloseTo(width * height, 2);
		// Points along one parallel enclose nothing.
		expect(
			polygonAreaKm2([
				[13.4, 52.5],
				[13.41, 52.5],
				[13.42, 52.5],
			])
		).toBe(0);
	});

	it("finds self-intersections (a bow tie) and none in a simple ring", () => {
		expect(selfIntersects(SQUARE)).toBe(false);
		expect(
			selfIntersects([
				[0, 0],
				[1, 1],
				[1, 0],
				[0, 1],
			])
		).toBe(true);
	});

	it("tells inside from outside, a concave ring included", () => {
		expect(pointInRing(52.505, 13.405, SQUARE)).toBe(true);
		expect(pointInRing(52.515, 13.405, SQUARE)).toBe(false);
		expect(pointInRing(52.505, 13.395, SQUARE)).toBe(false);
		// A U: the notch between its arms is outside.
		const u: [number, number][] = [
			[0, 0],
			[3, 0],
			[3, 3],
			[2, 3],
			[2, 1],
			[1, 1],
			[1, 3],
			[0, 3],
		];
		expect(pointInRing(2, 1.5, u)).toBe(false);
		expect(pointInRing(2, 0.5, u)).toBe(true);
		expect(pointInRing(2, 2.5, u)).toBe(true);
	});

	it("measures the distance to the nearest edge, from inside and outside", () => {
		const toWest = distanceM(52.505, 13.405, 52.505, 13.4);
		expect(distanceToRingM(52.505, 13.405, SQUARE)).toBeCloseTo(toWest, -1);
		const north = distanceM(52.52, 13.405, 52.51, 13.405);
		expect(Math.abs(distanceToRingM(52.52, 13.405, SQUARE) - north) / north).toBeLessThan(0.005);
		// Past a corner the nearest point is the corner itself.
		const corner = distanceM(52.515, 13.415, 52.51, 13.41);
		expect(Math.abs(distanceToRingM(52.515, 13.415, SQUARE) - corner) / corner).toBeLessThan(0.005);
	});
});
