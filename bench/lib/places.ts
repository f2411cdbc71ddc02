/**
 * Where the everyday scenarios put vendors and watchers: boxes of a given size, points in them
 * drawn from a seeded generator (the same places for every competitor of a run) and far enough
 * from their cell's edge that a vendor's jitter (clients/vendors.ts) never moves it to another cell.
 */
import { latLngToCell } from "h3-js";
import type { BBox } from "../servers/cells.ts";
import { seededRng } from "../../scripts/simulate/motion.ts";

const M_PER_DEG_LAT = 111_320;
/** Vendors jitter by at most ~3 m; 15 m from every cell edge they stay in their cell. */
const EDGE_MARGIN_M = 15;

export type Place = { lat: number; lng: number; cell: string };

/** A box `widthM` × `heightM` metres centred on a point. */
export function boxAround(lat: number, lng: number, widthM: number, heightM = widthM): BBox {
	const dLat = heightM / 2 / M_PER_DEG_LAT;
	const dLng = widthM / 2 / (M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180));
	return [lng - dLng, lat - dLat, lng + dLng, lat + dLat];
}

/** `count` random points inside the box, each at least EDGE_MARGIN_M from the edge of its cell at `res`. */
export function placesInBox([w, s, e, n]: BBox, count: number, seed: number, res = 8): Place[] {
	const random = seededRng(seed);
	const places: Place[] = [];
	while (places.length < count) {
		const lat = s + random() * (n - s);
		const lng = w + random() * (e - w);
		const cell = latLngToCell(lat, lng, res);
		const dLat = EDGE_MARGIN_M / M_PER_DEG_LAT;
		const dLng = dLat / Math.cos((lat * Math.PI) / 180);
		const around = [-1, 0, 1].flatMap(i => [-1, 0, 1].map(j => latLngToCell(lat + i * dLat, lng + j * dLng, res)));
		if (around.every(c => c === cell)) places.push({ lat, lng, cell });
	}
	return places;
}

/** `count` boxes `sideM` wide, each wholly inside `area`, centred at random. */
export function boxesInside([w, s, e, n]: BBox, count: number, sideM: number, seed: number): BBox[] {
	const random = seededRng(seed);
	const inner = boxAround((s + n) / 2, (w + e) / 2, sideM);
	const [halfLng, halfLat] = [(inner[2] - inner[0]) / 2, (inner[3] - inner[1]) / 2];
	if (2 * halfLng >= e - w || 2 * halfLat >= n - s) throw new Error(`a ${sideM} m box does not fit the area`);
	return Array.from({ length: count }, () => {
		const lat = s + halfLat + random() * (n - s - 2 * halfLat);
		const lng = w + halfLng + random() * (e - w - 2 * halfLng);
		return boxAround(lat, lng, sideM);
	});
}

/** The ids of the vendors whose cell is one of `cells`: what a snapshot of those cells holds. */
export function vendorIdsInCells(vendors: readonly { id: string; cell: string }[], cells: readonly string[]): string[] {
	const set = new Set(cells);
	return vendors.filter(v => set.has(v.cell)).map(v => v.id);
}
