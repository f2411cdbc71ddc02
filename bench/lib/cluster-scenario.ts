/**
 * The N-node routing scenario of the cluster stage: one area per watcher node, far apart, area i
 * made of whole routing cells (H3 res − 3, one NATS subject each) — areas of different sizes, so
 * each node watches a different number of routing cells — plus routing cells nobody watches.
 * Every routing cell holds the same vendors (`cellsPerRoutingCell` fine cells × `vendorsPerCell`),
 * so a node's share of the routed traffic should be its share of the routing cells with vendors.
 */
import { cellToCenterChild, cellToLatLng, gridDisk, latLngToCell } from "h3-js";
import { ROUTING_RES_OFFSET, routingCell } from "../../gateways/live/cells.ts";
import type { VendorsSample } from "../clients/vendors.ts";
import type { WatchersSample } from "../clients/watchers.ts";
import type { LiveCounters } from "./engine.ts";
import type { CpuSample } from "./proc.ts";

/** Watched areas first (one per node, in node order), then the unwatched one. */
const CITIES = [
	{ name: "hamburg", lat: 53.55, lng: 10.0 },
	{ name: "berlin", lat: 52.52, lng: 13.405 },
	{ name: "cologne", lat: 50.938, lng: 6.96 },
	{ name: "frankfurt", lat: 50.11, lng: 8.682 },
	{ name: "stuttgart", lat: 48.776, lng: 9.18 },
	{ name: "munich", lat: 48.137, lng: 11.575 },
	{ name: "leipzig", lat: 51.34, lng: 12.375 },
] as const;

export type ClusterScenarioOptions = {
	/** Routing cells watched by each node: node i watches area i, made of this many routing cells. */
	routingCellsPerNode: number[];
	/** Routing cells with vendors that no node watches (their traffic must reach nobody). */
	unwatchedRoutingCells: number;
	cellsPerRoutingCell: number;
	vendorsPerCell: number;
	/** Watchers per routing cell, each watching every vendor cell of that routing cell. */
	watchersPerRoutingCell: number;
	res?: number;
};

export type ClusterVendor = { index: number; cell: string; routingCell: string; lat: number; lng: number };
export type ClusterWatch = { routingCell: string; cells: string[] };

export type ClusterScenario = {
	res: number;
	areas: { name: string; routingCells: string[]; watched: boolean }[];
	vendors: ClusterVendor[];
	/** Per node, its watchers' watches. */
	watches: ClusterWatch[][];
	/** Watchers per vendor cell: each position goes to this many watchers, all on one node. */
	fanOut: number;
	/** Per node: the fine cells its watchers watch together. */
	watchedCells: number[];
	/** Per node: its routing cells over all routing cells with vendors (the share of traffic it should get). */
	watchedShare: number[];
};

/** `n` routing cells of the area around a city: its own and the nearest rings. */
function routingCellsAround(lat: number, lng: number, routingRes: number, n: number): string[] {
	const centre = latLngToCell(lat, lng, routingRes);
	let k = 0;
	while (3 * k * (k + 1) + 1 < n) k++;
	return gridDisk(centre, k).slice(0, n);
}

/** `n` fine cells near the centre of a routing cell (all of them its children). */
function vendorCellsOf(parent: string, res: number, n: number): string[] {
	const cells = gridDisk(cellToCenterChild(parent, res), 2).slice(0, n);
	if (cells.length < n || cells.some(c => routingCell(c, res) !== parent))
		throw new Error(`routing cell ${parent} does not hold ${n} cells around its centre`);
	return cells;
}

export function buildClusterScenario(opts: ClusterScenarioOptions): ClusterScenario {
	const res = opts.res ?? 8;
	const routingRes = res - ROUTING_RES_OFFSET;
	const sizes = [...opts.routingCellsPerNode, opts.unwatchedRoutingCells];
	if (sizes.length > CITIES.length) throw new Error(`at most ${CITIES.length - 1} watcher nodes`);
	const areas = sizes.map((n, i) => {
		const city = i < opts.routingCellsPerNode.length ? CITIES[i]! : CITIES[CITIES.length - 1]!;
		return { name: city.name, routingCells: routingCellsAround(city.lat, city.lng, routingRes, n), watched: i < sizes.length - 1 };
	});
	const cellsOf = new Map(areas.flatMap(a => a.routingCells).map(r => [r, vendorCellsOf(r, res, opts.cellsPerRoutingCell)]));
	if (cellsOf.size !== sizes.reduce((a, n) => a + n, 0)) throw new Error("two areas share a routing cell");
	// Interleaved by routing cell: the vendors client spreads send times by index, so each routing
	// cell's vendors are spread over the period and every routing cell sends at the same rate in any window.
	const vendors: ClusterVendor[] = [];
	for (let k = 0; k < opts.cellsPerRoutingCell * opts.vendorsPerCell; k++)
		for (const [parent, cells] of cellsOf) {
			const cell = cells[k % opts.cellsPerRoutingCell]!;
			const [lat, lng] = cellToLatLng(cell);
			vendors.push({ index: vendors.length, cell, routingCell: parent, lat, lng });
		}
	const watchedAreas = areas.filter(a => a.watched);
	const watches = watchedAreas.map(a =>
		a.routingCells.flatMap(r => Array.from({ length: opts.watchersPerRoutingCell }, () => ({ routingCell: r, cells: cellsOf.get(r)! })))
	);
	return {
		res,
		areas,
		vendors,
		watches,
		fanOut: opts.watchersPerRoutingCell,
		watchedCells: watchedAreas.map(a => a.routingCells.length * opts.cellsPerRoutingCell),
		watchedShare: watchedAreas.map(a => a.routingCells.length / cellsOf.size),
	};
}

/** What the cluster stage reads at once: CPU of every engine, the clients' counts, the live nodes' counters (ingest first). */
export type ClusterSample = { cpu: CpuSample[]; vendors: VendorsSample; watchers: WatchersSample[]; counters: LiveCounters[] };

/** Running totals over the measurement: per group sent, per node routed in, per watcher delivered and expected. */
export class ClusterTotals {
	readonly sentByGroup: Record<string, number> = {};
	published = 0;
	readonly routedIn: number[];
	readonly watchers: { delivered: number; expected: number }[][];
	readonly #scenario: ClusterScenario;
	constructor(scenario: ClusterScenario) {
		this.#scenario = scenario;
		this.routedIn = scenario.watches.map(() => 0);
		this.watchers = scenario.watches.map(ws => ws.map(() => ({ delivered: 0, expected: 0 })));
	}
	/** Adds what happened between two samples; answers the deliveries and the routed-in of that span. */
	add(prev: ClusterSample, next: ClusterSample) {
		for (const [group, n] of Object.entries(next.vendors.sentByGroup)) this.sentByGroup[group] = (this.sentByGroup[group] ?? 0) + n;
		const published = next.counters[0]!.positionsIn - prev.counters[0]!.positionsIn;
		this.published += published;
		const routedIn = this.#scenario.watches.map((_, i) => next.counters[i + 1]!.routedIn - prev.counters[i + 1]!.routedIn);
		let [delivered, expected] = [0, 0];
		this.#scenario.watches.forEach((ws, i) => {
			this.routedIn[i]! += routedIn[i]!;
			ws.forEach((w, j) => {
				const got = next.watchers[i]!.posBySocket?.[j] ?? 0;
				const want = next.vendors.sentByGroup[w.routingCell] ?? 0;
				this.watchers[i]![j]!.delivered += got;
				this.watchers[i]![j]!.expected += want;
				delivered += got;
				expected += want;
			});
		});
		const ingestRoutedIn = next.counters[0]!.routedIn - prev.counters[0]!.routedIn;
		return { published, routedIn, ingestRoutedIn, delivered, expected };
	}
	/** Positions sent by the vendors of node i's routing cells. */
	produced(i: number): number {
		const cells = new Set(this.#scenario.watches[i]!.map(w => w.routingCell));
		return [...cells].reduce((a, r) => a + (this.sentByGroup[r] ?? 0), 0);
	}
}
