import { cellToLatLng, getHexagonAreaAvg } from "h3-js";
import { demandLevels } from "../../../lib/demand.ts";
import { badRequest, invalidBBox, validationError } from "../../../lib/errors.ts";
import { bboxAreaKm2, inBBox, parseBBox, splitBBox, type BBox } from "../../../lib/geo.ts";
import type { CellWatchers, DemandCountsParams } from "../../../services/discovery/contract.ts";
import { boxCells, ROUTING_RES_OFFSET } from "../cells.ts";
import type { AreaCounts } from "./counts.ts";

/** Most routing cells one `live.demand` box may overlap (each may cost an ask across the cluster). */
export const DEMAND_MAX_ROUTING_CELLS = 200;

/** The box and level of a `live.demand` call (the level defaults to the fine one); 422 on a bad box or another level. */
export function demandQuery(params: DemandCountsParams, h3Res: number): { bbox: BBox; res: number } {
	const bbox = parseBBox(params.bbox);
	if (!bbox) throw invalidBBox();
	const { fine, coarse } = demandLevels(h3Res);
	const res = params.res ?? fine;
	if (res !== fine && res !== coarse)
		throw validationError(`res must be ${fine} (cells) or ${coarse} (neighbourhoods)`, [
			{ type: "res", field: "res", message: `res must be ${fine} or ${coarse}` },
		]);
	return { bbox, res };
}

const tooLarge = () =>
	badRequest(`The box overlaps more than ${DEMAND_MAX_ROUTING_CELLS} routing cells; ask for a smaller one`, "AREA_TOO_LARGE", {
		max: DEMAND_MAX_ROUTING_CELLS,
	});

/** The routing cells a box overlaps; AREA_TOO_LARGE (400) above DEMAND_MAX_ROUTING_CELLS, refused before any h3 work when its area says so. */
export function boxRoutingCells(bbox: BBox, h3Res: number): string[] {
	const res = Math.max(0, h3Res - ROUTING_RES_OFFSET);
	if (bboxAreaKm2(bbox) / getHexagonAreaAvg(res, "km2") > DEMAND_MAX_ROUTING_CELLS) throw tooLarge();
	const cells = [...new Set(splitBBox(bbox).flatMap(part => boxCells(part, res)))];
	if (cells.length > DEMAND_MAX_ROUTING_CELLS) throw tooLarge();
	return cells;
}

/** The watchers per cell of one level summed over every node's counts, cells whose centre is in the box, busiest first. */
export function sumInBox(bbox: BBox, level: keyof AreaCounts, counts: Iterable<AreaCounts>): CellWatchers[] {
	const totals = new Map<string, number>();
	for (const area of counts) for (const [cell, n] of area[level]) totals.set(cell, (totals.get(cell) ?? 0) + n);
	const parts = splitBBox(bbox);
	const inside: CellWatchers[] = [];
	for (const [cell, watchers] of totals) {
		const [lat, lng] = cellToLatLng(cell);
		if (parts.some(part => inBBox(part, lat, lng))) inside.push({ cell, watchers });
	}
	return inside.sort((a, b) => b.watchers - a.watchers || a.cell.localeCompare(b.cell));
}
