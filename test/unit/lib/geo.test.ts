import { describe, expect, it } from "vitest";
import {
	bboxAreaKm2,
	circleBounds,
	distanceBetween,
	distanceM,
	inBBox,
	isValidBBox,
	MAX_RADIUS_M,
	parseBBox,
	splitBBox,
} from "../../../lib/geo.ts";

describe("geo helpers", () => {
	it("measures great-circle distance", () => {
		expect(distanceM(0, 0, 0, 1)).toBeCloseTo(111_226, -1);
		expect(distanceM(52.52, 13.4, 52.52, 13.4)).toBe(0);
		expect(distanceBetween({ lat: 0, lng: 0 }, { lat: 0, lng: 1 })).toBe(distanceM(0, 0, 0, 1));
		// Half the equator, the farthest two points can be.
		expect(distanceM(0, 0, 0, 180)).toBeCloseTo(Math.PI * 6_372_797.560856, 0);
	});

	it("parses boxes from text and arrays, and refuses what is not a box", () => {
		expect(parseBBox("13.3,52.5,13.5,52.55")).toEqual([13.3, 52.5, 13.5, 52.55]);
		expect(parseBBox([179.9, -17, -179.9, -16.9])).toEqual([179.9, -17, -179.9, -16.9]);
		for (const bad of ["", "1,2,3", "1,,2,3", "a,b,c,d", "0,10,1,5", "0,0,0,1", "-181,0,1,1", "0,-91,1,0", "1,2,3,4,5"]) {
			expect(parseBBox(bad), bad).toBeUndefined();
		}
		expect(parseBBox([0, 0, "1", 1])).toBeUndefined();
		expect(isValidBBox([0, 0, Number.NaN, 1])).toBe(false);
	});

	it("splits a box across the antimeridian into two that do not cross it", () => {
		expect(splitBBox([10, 0, 20, 1])).toEqual([[10, 0, 20, 1]]);
		expect(splitBBox([179, -1, -179, 1])).toEqual([
			[179, -1, 180, 1],
			[-180, -1, -179, 1],
		]);
		expect(inBBox([10, 0, 20, 1], 0.5, 15)).toBe(true);
		expect(inBBox([10, 0, 20, 1], 1.5, 15)).toBe(false);
	});

	it("bounds a circle by a box that contains it, wider towards the poles", () => {
		const equator = circleBounds({ lat: 0, lng: 0 }, 10_000);
		const north = circleBounds({ lat: 60, lng: 0 }, 10_000);
		expect(distanceM(0, 0, equator.north, 0)).toBeCloseTo(10_000, 0);
		expect(north.east - north.west).toBeCloseTo(2 * (equator.east - equator.west), 3);
		expect(circleBounds({ lat: 89.99, lng: 0 }, MAX_RADIUS_M)).toMatchObject({ north: 90 });
	});

	it("estimates areas well enough to refuse huge boxes early", () => {
		// One degree square at the equator is about 12 370 km² on this earth.
		expect(bboxAreaKm2([0, 0, 1, 1])).toBeCloseTo(12_370, -1);
		expect(bboxAreaKm2([179.5, 0, -179.5, 1])).toBeCloseTo(bboxAreaKm2([0, 0, 1, 1]), 3);
	});
});
