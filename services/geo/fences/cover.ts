import { cellToBoundary, cellToLatLng, getHexagonEdgeLengthAvg, gridDisk, latLngToCell } from "h3-js";
import { distanceM } from "../../../lib/geo.ts";
import type { Bounds } from "./shapes.ts";

/** Cells and disks remembered at most (a city's fences share a few thousand cells). */
const MAX_CELLS = 200_000;
const MAX_DISKS = 20_000;

/** A cell's descendants at finer resolutions reach up to ~4% beyond its corners (measured at resolutions 7–10 under 6). */
export const DESCENDANTS_REACH = 1.1;

type Cell = { lat: number; lng: number /** metres from the center to the farthest corner */; radius: number };

/**
 * The H3 cells at one resolution that overlap a box, cheaply enough to index 100 000 fences:
 * h3-js' polygonToCells costs about a millisecond a call (measured: 0.7–1.5 ms for a 4 km box),
 * so the cells are taken from a grid disk around the box's center cell, wide enough for any
 * cell's size at that resolution, and kept when the box comes within their circumradius. Disks,
 * centers and radii are memoised: fences in one city share them.
 */
export class CellCover {
	readonly #res: number;
	/** Conservative bounds for any cell of the resolution (H3 cells vary about twofold in size). */
	readonly #minSpacingM: number;
	readonly #maxRadiusM: number;
	readonly #cells = new Map<string, Cell>();
	readonly #disks = new Map<string, string[]>();

	constructor(res: number) {
		this.#res = res;
		const edge = getHexagonEdgeLengthAvg(res, "m");
		this.#minSpacingM = edge * Math.sqrt(3) * 0.5;
		this.#maxRadiusM = edge * 2;
	}

	/** Every cell that overlaps the box (and a few next to it; never one less). */
	cells(b: Bounds): string[] {
		const west = Math.max(-180, b.west);
		const east = Math.min(180, b.east);
		const lat = (b.south + b.north) / 2;
		const lng = (west + east) / 2;
		const halfDiagonal = distanceM(lat, lng, b.north, east);
		const k = Math.ceil((halfDiagonal + this.#maxRadiusM) / this.#minSpacingM) + 1;
		return this.#disk(latLngToCell(lat, lng, this.#res), k).filter(cell => this.overlaps(cell, b));
	}

	/**
	 * Whether a cell of the resolution overlaps the box (or comes close to it). `reach`: how far
	 * the cell extends, in circumradii (1% of slack for the flat clamp below; DESCENDANTS_REACH
	 * for a cell standing for its descendants).
	 */
	overlaps(cell: string, b: Bounds, reach = 1.01): boolean {
		const c = this.#cell(cell);
		const nearLat = Math.min(Math.max(c.lat, b.south), b.north);
		const nearLng = Math.min(Math.max(c.lng, Math.max(-180, b.west)), Math.min(180, b.east));
		return distanceM(c.lat, c.lng, nearLat, nearLng) <= c.radius * reach + 1;
	}

	/** Every cell whose descendants may hold a point within `radiusM` of the center (and a few more; never one less). */
	aroundCircle(lat: number, lng: number, radiusM: number): string[] {
		const k = Math.ceil((radiusM + this.#maxRadiusM * DESCENDANTS_REACH) / this.#minSpacingM) + 1;
		return this.#disk(latLngToCell(lat, lng, this.#res), k).filter(cell => {
			const c = this.#cell(cell);
			return distanceM(lat, lng, c.lat, c.lng) <= radiusM + c.radius * DESCENDANTS_REACH + 1;
		});
	}

	#disk(center: string, k: number): string[] {
		const key = `${center}:${k}`;
		let disk = this.#disks.get(key);
		if (!disk) {
			if (this.#disks.size >= MAX_DISKS) this.#disks.clear();
			disk = gridDisk(center, k);
			this.#disks.set(key, disk);
		}
		return disk;
	}

	#cell(cell: string): Cell {
		let c = this.#cells.get(cell);
		if (!c) {
			if (this.#cells.size >= MAX_CELLS) this.#cells.clear();
			const [lat, lng] = cellToLatLng(cell);
			const radius = Math.max(...cellToBoundary(cell).map(([vLat, vLng]) => distanceM(lat, lng, vLat, vLng)));
			c = { lat, lng, radius };
			this.#cells.set(cell, c);
		}
		return c;
	}
}
