import { cellToParent } from "h3-js";
import { demandLevels } from "../../../lib/demand.ts";
import { routingCell } from "../cells.ts";

/** A routing cell's watcher counts on one node: fine cells, and coarse cells (distinct sockets). */
export type AreaCounts = { fine: Map<string, number>; coarse: Map<string, number> };

/** What a socket watches at the coarse level: its coarse cells, each with how many of its fine cells lie inside. */
export type CoarseWatch = Map<string, number>;

const bump = (map: Map<string, number>, key: string, by: number): number => {
	const n = (map.get(key) ?? 0) + by;
	if (n > 0) map.set(key, n);
	else map.delete(key);
	return n;
};

/**
 * This node's watcher counts at the two demand levels (lib/demand.ts demandLevels), grouped by
 * routing cell (the unit they are published in). Fine: sockets watching the cell. Coarse: distinct
 * sockets watching any fine cell inside it (a socket watching 50 cells of one coarse cell counts
 * once), from each socket's own CoarseWatch. Routing cells whose counts changed are remembered
 * until taken.
 */
export class LocalDemand {
	readonly #res: number;
	readonly #coarseRes: number;
	readonly #fine = new Map<string, number>();
	readonly #areas = new Map<string, AreaCounts>();
	readonly #changed = new Set<string>();

	constructor(res: number) {
		this.#res = res;
		this.#coarseRes = demandLevels(res).coarse;
	}

	/**
	 * A socket (its CoarseWatch) started watching `cell`. Answers the routing cell when it is the
	 * first one watched under it here (time to subscribe to its updates), else null.
	 */
	watch(coarse: CoarseWatch, cell: string): string | null {
		const routing = routingCell(cell, this.#res);
		this.#changed.add(routing);
		let area = this.#areas.get(routing);
		const opened = !area;
		if (!area) {
			area = { fine: new Map(), coarse: new Map() };
			this.#areas.set(routing, area);
		}
		area.fine.set(cell, bump(this.#fine, cell, 1));
		const parent = cellToParent(cell, this.#coarseRes);
		if (bump(coarse, parent, 1) === 1) bump(area.coarse, parent, 1);
		return opened ? routing : null;
	}

	/** A socket stopped watching `cell`. Answers the routing cell when nothing under it is watched here any more, else null. */
	unwatch(coarse: CoarseWatch, cell: string): string | null {
		const routing = routingCell(cell, this.#res);
		const area = this.#areas.get(routing);
		if (!area) return null;
		this.#changed.add(routing);
		const left = bump(this.#fine, cell, -1);
		if (left > 0) area.fine.set(cell, left);
		else area.fine.delete(cell);
		const parent = cellToParent(cell, this.#coarseRes);
		if (bump(coarse, parent, -1) === 0) bump(area.coarse, parent, -1);
		if (area.fine.size > 0) return null;
		this.#areas.delete(routing);
		return routing;
	}

	/** Sockets here watching a fine cell. */
	fineCount(cell: string): number {
		return this.#fine.get(cell) ?? 0;
	}

	/** Fine cells watched here. */
	get watchedCells(): number {
		return this.#fine.size;
	}

	/** Watching sockets per fine cell. */
	fineCells(): IterableIterator<[string, number]> {
		return this.#fine.entries();
	}

	/** This node's counts under a routing cell (undefined: nobody here watches anything under it). */
	area(routing: string): AreaCounts | undefined {
		return this.#areas.get(routing);
	}

	/** Routing cells with watchers here. */
	routingCells(): IterableIterator<string> {
		return this.#areas.keys();
	}

	/** How many routing cells have watchers here. */
	get areas(): number {
		return this.#areas.size;
	}

	/** The routing cells whose counts changed since the last call (and forgets them). */
	takeChanged(): string[] {
		const changed = [...this.#changed];
		this.#changed.clear();
		return changed;
	}
}
