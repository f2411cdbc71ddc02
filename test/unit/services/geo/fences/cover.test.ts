import { POLYGON_TO_CELLS_FLAGS, polygonToCellsExperimental } from "h3-js";
import { describe, expect, it } from "vitest";
import { circleBounds } from "../../../../../lib/geo.ts";
import { CellCover } from "../../../../../services/geo/fences/cover.ts";
import { FENCE_INDEX_RES } from "../../../../../services/geo/fences/index.ts";

/** What H3 itself says overlaps the box (the slow call the cover avoids). */
function overlapping({ south, north, west, east }: ReturnType<typeof circleBounds>, res: number): string[] {
	const box = [
		[south, west],
		[south, east],
		[north, east],
		[north, west],
	];
	return polygonToCellsExperimental(box, res, POLYGON_TO_CELLS_FLAGS.containmentOverlapping);
}

describe("CellCover", () => {
	it("covers every cell H3 finds overlapping a box, from 50 m to 10 km, near the equator, in Berlin and far north, with few extra", () => {
		const cover = new CellCover(FENCE_INDEX_RES);
		let extra = 0;
		let exact = 0;
		for (const center of [
			{ lat: 0.3, lng: 32.5 },
			{ lat: 52.52, lng: 13.405 },
			{ lat: 69.65, lng: 18.96 },
			{ lat: -33.87, lng: 151.2 },
		]) {
			for (const radius of [50, 300, 1_000, 4_000, 11_000]) {
				for (const shift of [0, 0.004, 0.011]) {
					const bounds = circleBounds({ lat: center.lat + shift, lng: center.lng - shift }, radius);
					const cells = new Set(cover.cells(bounds));
					const want = overlapping(bounds, FENCE_INDEX_RES);
					expect(want.filter(c => !cells.has(c))).toEqual([]);
					extra += cells.size - want.length;
					exact += want.length;
				}
			}
		}
		expect(extra / exact).toBeLessThan(1.5);
	});
});
