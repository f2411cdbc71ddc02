/**
 * A bbox watch as the competitors answer it: every cell at `res` overlapping the box, by the
 * engine's own function (gateways/live/cells.ts `boxCells`, without the watch's cache and cap),
 * so every server of a scenario watches the same cells. The orchestrator uses
 * it too, to know which vendors each snapshot must hold.
 */

import type { BBox } from "../../lib/geo.ts";

/** `[west, south, east, north]` in degrees, west < east (the bench's boxes never cross the antimeridian). */
export type { BBox };

export function isBBox(v: unknown): v is BBox {
	if (!Array.isArray(v) || v.length !== 4 || !v.every(x => typeof x === "number" && Number.isFinite(x))) return false;
	const [w, s, e, n] = v as number[];
	return w! >= -180 && e! <= 180 && w! < e! && s! >= -90 && n! <= 90 && s! < n!;
}

/** The engine's own box → cells (gateways/live/cells.ts), so every server of a scenario watches the same cells. */
export { boxCells as bboxCells } from "../../gateways/live/cells.ts";
