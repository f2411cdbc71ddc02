import { cellToLatLng, gridDisk, latLngToCell } from "h3-js";

/**
 * The bench's world: two areas far apart (different NATS routing cells), each a patch of
 * res-8 cells. Vendors sit `vendorsPerCell` to a cell; each watcher watches
 * `cellsPerWatcher` cells of one area, so every cell has the same number of watchers and
 * every position is delivered exactly `fanOut` times.
 */
export const AREAS = [
	{ name: "berlin", lat: 52.52, lng: 13.405 },
	{ name: "munich", lat: 48.137, lng: 11.575 },
] as const;

export type Scenario = {
	res: number;
	cells: string[][]; // per area
	vendors: { index: number; area: number; cell: string; lat: number; lng: number }[];
	/** Watch sets per area. */
	watchSets: string[][][];
	fanOut: number;
	vendorsPerWatcher: number;
};

export function buildScenario(opts: {
	vendors: number;
	watchers: number;
	vendorsPerCell: number;
	cellsPerWatcher: number;
	res?: number;
}): Scenario {
	const res = opts.res ?? 8;
	const areaCount = AREAS.length;
	const cellCount = opts.vendors / opts.vendorsPerCell;
	const cellsPerArea = cellCount / areaCount;
	const watchersPerArea = opts.watchers / areaCount;
	const fanOut = (watchersPerArea * opts.cellsPerWatcher) / cellsPerArea;
	if (![cellCount, cellsPerArea, watchersPerArea, fanOut].every(Number.isInteger) || opts.cellsPerWatcher > cellsPerArea) {
		throw new Error(`scenario does not divide evenly: ${JSON.stringify(opts)}`);
	}
	const cells = AREAS.map(a => {
		const center = latLngToCell(a.lat, a.lng, res);
		let k = 1;
		while (3 * k * (k + 1) + 1 < cellsPerArea) k++;
		return gridDisk(center, k).slice(0, cellsPerArea);
	});
	const vendors = Array.from({ length: opts.vendors }, (_, index) => {
		const cellIndex = Math.floor(index / opts.vendorsPerCell);
		const area = Math.floor(cellIndex / cellsPerArea);
		const cell = cells[area]![cellIndex % cellsPerArea]!;
		const [lat, lng] = cellToLatLng(cell);
		return { index, area, cell, lat, lng };
	});
	const watchSets = cells.map(areaCells =>
		Array.from({ length: watchersPerArea }, (_, j) =>
			Array.from({ length: opts.cellsPerWatcher }, (_, t) => areaCells[(j * opts.cellsPerWatcher + t) % cellsPerArea]!)
		)
	);
	const watchCount = new Map<string, number>();
	for (const set of watchSets.flat()) for (const cell of set) watchCount.set(cell, (watchCount.get(cell) ?? 0) + 1);
	if (cells.flat().some(cell => watchCount.get(cell) !== fanOut))
		throw new Error(`scenario does not watch every cell ${fanOut} times: ${JSON.stringify(opts)}`);
	return { res, cells, vendors, watchSets, fanOut, vendorsPerWatcher: opts.cellsPerWatcher * opts.vendorsPerCell };
}

/** Splits a list into `n` nearly equal parts. */
export function split<T>(list: T[], n: number): T[][] {
	const parts: T[][] = Array.from({ length: n }, () => []);
	list.forEach((item, i) => {
		parts[i % n]!.push(item);
	});
	return parts;
}
