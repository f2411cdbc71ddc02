import { cellToParent, getResolution, POLYGON_TO_CELLS_FLAGS, polygonToCellsExperimental } from "h3-js";
import type { Bounds } from "./shapes.ts";

/**
 * Fences are indexed at this H3 resolution (~5 km² cells, ~1.2 km edges): coarse enough that a
 * 10 km alert covers about a hundred cells, fine enough that a city's fences spread over many.
 * A position's cell (at H3_RES) is mapped to its parent here.
 */
export const FENCE_INDEX_RES = 7;

/** The value under `key`, made and stored first when there is none. */
export function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
	let value = map.get(key);
	if (value === undefined) {
		value = make();
		map.set(key, value);
	}
	return value;
}

/** Memoised parents kept at most (vendors occupy far fewer cells than this). */
const MAX_PARENTS = 200_000;

/**
 * Fences by the index cells their grown shape covers. `candidates` is the hot path of every
 * position: one memoised parent lookup and one Map lookup, no allocation when no fence is there.
 */
export class FenceIndex<T> {
	readonly #byCell = new Map<string, Set<T>>();
	readonly #cellsOf = new Map<T, string[]>();
	readonly #parents = new Map<string, string>();
	readonly #res: number;

	/** `positionRes`: the resolution of the positions' cells (H3_RES); the index is never finer. */
	constructor(positionRes: number) {
		this.#res = Math.min(FENCE_INDEX_RES, positionRes);
	}

	get size(): number {
		return this.#cellsOf.size;
	}

	/** Indexes (or re-indexes) `fence` over the cells overlapping `bounds`. */
	set(fence: T, bounds: Bounds): void {
		this.delete(fence);
		const cells = coverCells(bounds, this.#res);
		this.#cellsOf.set(fence, cells);
		for (const cell of cells) {
			getOrCreate(this.#byCell, cell, () => new Set<T>()).add(fence);
		}
	}

	delete(fence: T): void {
		const cells = this.#cellsOf.get(fence);
		if (!cells) return;
		this.#cellsOf.delete(fence);
		for (const cell of cells) {
			const set = this.#byCell.get(cell);
			set?.delete(fence);
			if (set?.size === 0) this.#byCell.delete(cell);
		}
	}

	clear(): void {
		this.#byCell.clear();
		this.#cellsOf.clear();
	}

	/** The fences whose grown shape may contain a position in `cell` (a cell at the positions' resolution). */
	candidates(cell: string): ReadonlySet<T> | undefined {
		if (this.#byCell.size === 0) return undefined;
		let parent = this.#parents.get(cell);
		if (parent === undefined) {
			if (this.#parents.size >= MAX_PARENTS) this.#parents.clear();
			parent = getResolution(cell) > this.#res ? cellToParent(cell, this.#res) : cell;
			this.#parents.set(cell, parent);
		}
		return this.#byCell.get(parent);
	}
}

/** Every cell at `res` that overlaps the box (a box past ±180 is cut at it: fences never cross the antimeridian). */
function coverCells({ south, north, west, east }: Bounds, res: number): string[] {
	const w = Math.max(-180, west);
	const e = Math.min(180, east);
	const box = [
		[south, w],
		[south, e],
		[north, e],
		[north, w],
	];
	return polygonToCellsExperimental(box, res, POLYGON_TO_CELLS_FLAGS.containmentOverlapping);
}
