import { cellToParent, getResolution } from "h3-js";
import { CellCover } from "./cover.ts";
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

/** What a fence is about, for the index: listed vendors, categories, or any vendor. */
export type FenceAudience = { vendors: readonly string[] } | { categories: readonly string[] } | "any";

/** One index cell's fences: about any vendor, and by each category and each vendor they want. */
export type CellFences<T> = { any: Set<T>; byCategory: Map<string, Set<T>>; byVendor: Map<string, Set<T>> };

/**
 * Fences by the index cells their grown shape covers, and in each cell by audience, so a position
 * meets only the fences of its cell that may want its vendor. `candidates` is the hot path of
 * every position: one memoised parent lookup and one Map lookup, no allocation.
 */
export class FenceIndex<T> {
	readonly #byCell = new Map<string, CellFences<T>>();
	readonly #placed = new Map<T, { cells: string[]; audience: FenceAudience }>();
	readonly #parents = new Map<string, string>();
	readonly #res: number;
	readonly #cover: CellCover;

	/** `positionRes`: the resolution of the positions' cells (H3_RES); the index is never finer. */
	constructor(positionRes: number) {
		this.#res = Math.min(FENCE_INDEX_RES, positionRes);
		this.#cover = new CellCover(this.#res);
	}

	get size(): number {
		return this.#placed.size;
	}

	/** Indexes (or re-indexes) `fence` over the cells overlapping `bounds`. */
	set(fence: T, bounds: Bounds, audience: FenceAudience): void {
		this.delete(fence);
		const cells = this.#cover.cells(bounds);
		this.#placed.set(fence, { cells, audience });
		for (const cell of cells) {
			const entry = getOrCreate(this.#byCell, cell, () => ({ any: new Set<T>(), byCategory: new Map(), byVendor: new Map() }));
			if (audience === "any") entry.any.add(fence);
			else if ("vendors" in audience) for (const id of audience.vendors) getOrCreate(entry.byVendor, id, () => new Set<T>()).add(fence);
			else for (const c of audience.categories) getOrCreate(entry.byCategory, c, () => new Set<T>()).add(fence);
		}
	}

	delete(fence: T): void {
		const placed = this.#placed.get(fence);
		if (!placed) return;
		this.#placed.delete(fence);
		const { audience } = placed;
		for (const cell of placed.cells) {
			const entry = this.#byCell.get(cell);
			if (!entry) continue;
			if (audience === "any") entry.any.delete(fence);
			else if ("vendors" in audience) for (const id of audience.vendors) deleteIn(entry.byVendor, id, fence);
			else for (const c of audience.categories) deleteIn(entry.byCategory, c, fence);
			if (entry.any.size === 0 && entry.byCategory.size === 0 && entry.byVendor.size === 0) this.#byCell.delete(cell);
		}
	}

	clear(): void {
		this.#byCell.clear();
		this.#placed.clear();
	}

	/** The fences whose grown shape may contain a position in `cell` (a cell at the positions' resolution). */
	candidates(cell: string): CellFences<T> | undefined {
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

function deleteIn<T>(map: Map<string, Set<T>>, key: string, value: T): void {
	const set = map.get(key);
	set?.delete(value);
	if (set?.size === 0) map.delete(key);
}
