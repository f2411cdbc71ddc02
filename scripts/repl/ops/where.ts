import { cellToBoundary, cellToParent, getResolution, latLngToCell } from "h3-js";
import type { ServiceBroker } from "moleculer";
import { inBBox, type BBox } from "../../../lib/geo.ts";
import type { NearbyAnswer, NearbyParams } from "../../../services/discovery/contract.ts";
import type { HeatmapParams, HeatmapResult, InCellsParams, StoredPosition } from "../../../services/geo/contract.ts";
import type { GetManyParams, Vendor } from "../../../services/vendors/contract.ts";
import { ageSeconds, CALL, checkCell, WORLD } from "./common.ts";
import { sampleLive } from "./live.ts";

/** Who is where: vendors online (everywhere, in a cell, in a box), what a customer sees nearby, the busiest cells. */

export type OnlineFilter = { cell?: string; bbox?: BBox };
export type OnlineRow = {
	vendorId: string;
	name: string;
	status: string;
	lat: number;
	lng: number;
	cell: string;
	ageS: number;
	ts: string;
};

/**
 * A box around an H3 cell (any resolution), padded: the finer cells that belong to a coarse one
 * stick out of its hexagon a little.
 */
function cellBBox(cell: string): BBox {
	const ring = cellToBoundary(cell);
	const lats = ring.map(([lat]) => lat);
	const lngs = ring.map(([, lng]) => lng);
	const [w, e, s, n] = [Math.min(...lngs), Math.max(...lngs), Math.min(...lats), Math.max(...lats)];
	const padLat = (n - s) * 0.2;
	const padLng = (e - w) * 0.2;
	const south = Math.max(-90, s - padLat),
		north = Math.min(90, n + padLat);
	// A cell across the antimeridian: its box is the whole band.
	return e - w > 180 ? [-180, south, 180, north] : [Math.max(-180, w - padLng), south, Math.min(180, e + padLng), north];
}

/** Is the position in `cell`? By H3's hierarchy when the cell is as coarse as the stored one, else by point. */
function inCell(p: StoredPosition, cell: string): boolean {
	const res = getResolution(cell);
	return res <= getResolution(p.cell) ? cellToParent(p.cell, res) === cell : latLngToCell(p.lat, p.lng, res) === cell;
}

/** Online vendors inside a box: geo names the cells they are in, then returns the positions in those cells. */
async function positionsIn(broker: ServiceBroker, bbox: BBox): Promise<StoredPosition[]> {
	const heat = await broker.call<HeatmapResult, HeatmapParams>("geo.heatmap", { bbox }, CALL);
	const cells = heat.cells.map(c => c.cell);
	if (cells.length === 0) return [];
	const positions = await broker.call<StoredPosition[], InCellsParams>("geo.inCells", { cells }, CALL);
	const unique = new Map(positions.filter(p => inBBox(bbox, p.lat, p.lng)).map(p => [p.vendorId, p]));
	return [...unique.values()];
}

async function vendorsById(broker: ServiceBroker, ids: string[]): Promise<Map<string, Vendor>> {
	if (ids.length === 0) return new Map();
	const vendors = await broker.call<Vendor[], GetManyParams>("vendors.getMany", { ids }, CALL);
	return new Map(vendors.map(v => [v.id, v]));
}

/** `online`: vendors online now (everywhere, in an H3 cell of any resolution, or in a box), freshest first. */
export async function onlineVendors(broker: ServiceBroker, filter: OnlineFilter = {}): Promise<OnlineRow[]> {
	const cell = filter.cell === undefined ? undefined : checkCell(filter.cell);
	const bbox = filter.bbox ?? (cell ? cellBBox(cell) : WORLD);
	let positions = await positionsIn(broker, bbox);
	if (cell) positions = positions.filter(p => inCell(p, cell));
	const vendors = await vendorsById(
		broker,
		positions.map(p => p.vendorId)
	);
	const now = Date.now();
	return positions
		.map(p => ({
			vendorId: p.vendorId,
			name: vendors.get(p.vendorId)?.name ?? "?",
			status: vendors.get(p.vendorId)?.status ?? "?",
			lat: p.lat,
			lng: p.lng,
			cell: p.cell,
			ageS: ageSeconds(p.ts, now),
			ts: new Date(p.ts).toISOString(),
		}))
		.sort((a, b) => a.ageS - b.ageS || a.vendorId.localeCompare(b.vendorId));
}

export type NearRow = {
	vendorId: string;
	name: string;
	distanceM: number;
	online: boolean;
	lat: number;
	lng: number;
	ageS: number | null;
	categories: string;
};

/** `near`: what a customer at that point sees (discovery's answer, nearest first). */
export async function nearby(
	broker: ServiceBroker,
	{ lat, lng, radius = 1_000, limit = 50 }: { lat: number; lng: number; radius?: number; limit?: number }
): Promise<NearRow[]> {
	const answer = await broker.call<NearbyAnswer, NearbyParams>("discovery.nearby", { lat, lng, radius, limit }, CALL);
	const now = Date.now();
	return answer.rows.map(v => ({
		vendorId: v.id,
		name: v.name,
		distanceM: v.distance,
		online: v.online,
		lat: v.position.lat,
		lng: v.position.lng,
		ageS: v.online && typeof v.position.ts === "number" ? ageSeconds(v.position.ts, now) : null,
		categories: v.categories.join(","),
	}));
}

export type CellRow = { cell: string; vendors: number; watchers: number };

/** `cells`: busiest H3 cells by live vendors and by watchers (as each live node counts them). */
export async function busiestCells(broker: ServiceBroker, { top = 10 } = {}): Promise<CellRow[]> {
	const [positions, samples] = await Promise.all([positionsIn(broker, WORLD), sampleLive(broker, { cells: true })]);
	const rows = new Map<string, CellRow>();
	const row = (cell: string) => rows.get(cell) ?? rows.set(cell, { cell, vendors: 0, watchers: 0 }).get(cell)!;
	for (const p of positions) row(p.cell).vendors++;
	for (const sample of samples) for (const { cell, watchers } of sample.stats?.cellWatchers ?? []) row(cell).watchers += watchers;
	return [...rows.values()].sort((a, b) => b.vendors - a.vendors || b.watchers - a.watchers || a.cell.localeCompare(b.cell)).slice(0, top);
}
