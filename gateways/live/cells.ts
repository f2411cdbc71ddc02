/** The H3 cells of the live gateway: watch sets (from a box or a circle) and the routing cell above a cell. */
import {
	POLYGON_TO_CELLS_FLAGS,
	cellToLatLng,
	cellToParent,
	getHexagonAreaAvg,
	getHexagonEdgeLengthAvg,
	getResolution,
	gridDisk,
	isValidCell,
	latLngToCell,
	polygonToCellsExperimental,
} from "h3-js";
import { bboxAreaKm2, distanceM, splitBBox, type BBox } from "../../lib/geo.ts";
import type { WatchFrame } from "./protocol/frames.ts";

/** The watch set would exceed the cap; carries the estimate or exact count. */
export class TooManyCellsError extends Error {
	override name = "TooManyCellsError";
	readonly count: number;
	readonly max: number;
	constructor(count: number, max: number) {
		super(`The watch set has about ${count} cells; at most ${max} are allowed`);
		this.count = count;
		this.max = max;
	}
}

/** Cross-node routing groups fine cells under this many resolutions coarser parents. */
export const ROUTING_RES_OFFSET = 3;

/** The parent used as the routing unit (one NATS subject) for a cell of resolution `res`. */
export function routingCell(cell: string, res: number): string {
	return cellToParent(cell, Math.max(0, res - ROUTING_RES_OFFSET));
}

export const isCellAtRes = (cell: unknown, res: number): cell is string =>
	typeof cell === "string" && isValidCell(cell) && getResolution(cell) === res;

/**
 * Bounded LRU of computed watch sets. `polygonToCells` costs milliseconds for city-sized
 * areas and map clients re-send the same viewport often (reconnects, many viewers of one city).
 */
class CellSetCache {
	readonly #entries = new Map<string, readonly string[]>();
	#cells = 0;
	readonly #maxCells: number;
	constructor(maxCells: number) {
		this.#maxCells = maxCells;
	}
	get(key: string): readonly string[] | undefined {
		const hit = this.#entries.get(key);
		if (hit) {
			this.#entries.delete(key);
			this.#entries.set(key, hit);
		}
		return hit;
	}
	set(key: string, cells: readonly string[]): void {
		if (cells.length > this.#maxCells) return;
		this.#entries.set(key, cells);
		this.#cells += cells.length;
		for (const [k, v] of this.#entries) {
			if (this.#cells <= this.#maxCells) break;
			this.#entries.delete(k);
			this.#cells -= v.length;
		}
	}
	get size(): number {
		return this.#entries.size;
	}
}

/** At most this many cell ids are kept in the cache, whatever the mix of areas. */
const CACHE_MAX_CELLS = 200_000;
const cache = new CellSetCache(CACHE_MAX_CELLS);
const KEY_DIGITS = 5; // ~1 m: coarser keys would change which cells a viewport gets.

export const cellSetCacheSize = (): number => cache.size;

const cellsInArea = (areaKm2: number, res: number) => Math.ceil(areaKm2 / getHexagonAreaAvg(res, "km2"));

/** About how many cells a watch asks for, known before any h3 work (what the watch costs the socket's budget). */
export function estimateWatchCells(frame: WatchFrame, res: number): number {
	if ("cells" in frame) return frame.cells.length;
	if ("bbox" in frame) return cellsInArea(bboxAreaKm2(frame.bbox), res);
	return cellsInArea((Math.PI * frame.near.radius * frame.near.radius) / 1e6, res);
}

/** The cells a watch frame stands for; TooManyCellsError above `maxCells`. */
export function watchCells(frame: WatchFrame, res: number, maxCells: number): readonly string[] {
	if ("cells" in frame) return frame.cells;
	if ("bbox" in frame) return cellsForBBox(frame.bbox, res, maxCells);
	return cellsNear(frame.near.lat, frame.near.lng, frame.near.radius, res, maxCells);
}

/** Every cell at `res` overlapping a box that does not cross the antimeridian (no cache, no cap). */
export function boxCells([w, s, e, n]: BBox, res: number): string[] {
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

/** Every cell at `res` overlapping the bbox; refused (before any h3 work when the area says so) above `maxCells`. */
export function cellsForBBox(bbox: BBox, res: number, maxCells: number): readonly string[] {
	const estimate = cellsInArea(bboxAreaKm2(bbox), res);
	if (estimate > maxCells) throw new TooManyCellsError(estimate, maxCells);
	const key = `b${res}:${bbox.map(v => v.toFixed(KEY_DIGITS)).join(",")}`;
	let cells = cache.get(key);
	if (!cells) {
		const parts = splitBBox(bbox).map(part => boxCells(part, res));
		cells = parts.length === 1 ? parts[0]! : [...new Set(parts.flat())];
		cache.set(key, cells);
	}
	if (cells.length > maxCells) throw new TooManyCellsError(cells.length, maxCells);
	return cells;
}

/** Every cell at `res` that may overlap the circle; refused above `maxCells`. */
export function cellsNear(lat: number, lng: number, radiusM: number, res: number, maxCells: number): readonly string[] {
	const estimate = cellsInArea((Math.PI * radiusM * radiusM) / 1e6, res);
	if (estimate > maxCells) throw new TooManyCellsError(estimate, maxCells);
	const key = `n${res}:${lat.toFixed(KEY_DIGITS)},${lng.toFixed(KEY_DIGITS)},${Math.round(radiusM)}`;
	let cells = cache.get(key);
	if (!cells) {
		const edge = getHexagonEdgeLengthAvg(res, "m");
		// Neighbouring centres are ~√3·edge apart; one extra ring covers distortion.
		const k = Math.ceil(radiusM / (edge * Math.sqrt(3))) + 1;
		const reach = radiusM + edge * 1.5; // a hexagon's corner is one edge from its centre (+ distortion)
		cells = gridDisk(latLngToCell(lat, lng, res), k).filter(c => {
			const [clat, clng] = cellToLatLng(c);
			return distanceM(lat, lng, clat, clng) <= reach;
		});
		cache.set(key, cells);
	}
	if (cells.length > maxCells) throw new TooManyCellsError(cells.length, maxCells);
	return cells;
}
