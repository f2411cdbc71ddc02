import { describe, expect, it } from "vitest";
import { getResolution, latLngToCell } from "h3-js";
import { cellsForBBox, cellsNear, routingCell, TooManyCellsError } from "../../../../gateways/live/cells.ts";

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
