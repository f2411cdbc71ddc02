/**
 * A bbox watch as the competitors answer it: every cell at `res` overlapping the box, the same
 * h3-js call and containment as the engine's `watch` (gateways/live/cells.ts, without its cache
 * and cap estimate), so every server of a scenario watches the same cells. The orchestrator uses
 * it too, to know which vendors each snapshot must hold.
 */
import { POLYGON_TO_CELLS_FLAGS, polygonToCellsExperimental } from "h3-js";

/** `[west, south, east, north]` in degrees, west < east (the bench's boxes never cross the antimeridian). */
export type BBox = readonly [west: number, south: number, east: number, north: number];

export function isBBox(v: unknown): v is BBox {
	if (!Array.isArray(v) || v.length !== 4 || !v.every(x => typeof x === "number" && Number.isFinite(x))) return false;
	const [w, s, e, n] = v as number[];
	return w! >= -180 && e! <= 180 && w! < e! && s! >= -90 && n! <= 90 && s! < n!;
}

export function bboxCells([w, s, e, n]: BBox, res: number): string[] {
	return polygonToCellsExperimental(
		[
			[s, w],
			[s, e],
			[n, e],
			[n, w],
		],
		res,
		POLYGON_TO_CELLS_FLAGS.containmentOverlapping
	);
}
