/** What the discovery service takes and answers (dependency-free). */
import { LAT_LNG_SCHEMA, type BBox, type LatLng } from "../../lib/geo.ts";
import { POSITION_PROPERTIES } from "../../lib/position.ts";
import { HEATMAP_RESULT_SCHEMA, type HeatmapResult } from "../geo/contract.ts";
import { VENDOR_SCHEMA, type Vendor } from "../vendors/contract.ts";

export type NearbyParams = { lat: number; lng: number; radius?: number; q?: string; category?: string; online?: boolean; limit?: number };

/** Where a vendor is: a live position (online) or the fixed location of a stall. */
export type VendorPosition = LatLng & {
	vendorId: string;
	online: boolean;
	distance: number;
	ts?: number;
	cell?: string;
	acc?: number;
	hdg?: number;
	spd?: number;
};

export type NearbyVendor = Vendor & {
	distance: number;
	online: boolean;
	position: Omit<VendorPosition, "vendorId" | "online" | "distance">;
};
export type NearbyAnswer = { rows: NearbyVendor[]; total: number };

/** NearbyVendor as JSON Schema: the Vendor's, with where it is. */
export const NEARBY_VENDOR_SCHEMA = {
	...VENDOR_SCHEMA,
	title: "NearbyVendor",
	required: [...VENDOR_SCHEMA.required, "distance", "online", "position"],
	properties: {
		...VENDOR_SCHEMA.properties,
		distance: { type: "integer", minimum: 0, description: "Metres, rounded." },
		online: { type: "boolean" },
		position: {
			type: "object",
			additionalProperties: false,
			required: ["lat", "lng"],
			description: "The live position while online (with ts and cell), else the stall's fixed location.",
			properties: {
				lat: POSITION_PROPERTIES.lat,
				lng: POSITION_PROPERTIES.lng,
				ts: POSITION_PROPERTIES.ts,
				cell: { type: "string" },
				hdg: POSITION_PROPERTIES.hdg,
				spd: POSITION_PROPERTIES.spd,
			},
		},
	},
} as const;
export const NEARBY_ANSWER_SCHEMA = {
	title: "NearbyAnswer",
	type: "object",
	additionalProperties: false,
	required: ["rows", "total"],
	properties: { rows: { type: "array", items: NEARBY_VENDOR_SCHEMA }, total: { type: "integer", minimum: 0 } },
} as const;

/** `GET /api/discovery/heatmap?bbox=w,s,e,n&res=` */
export type HeatmapQuery = { bbox: string; res?: number };
export type { HeatmapResult };

export const DEFAULT_RADIUS_M = 5_000;
export const DEFAULT_NEARBY_LIMIT = 50;
export const MAX_NEARBY_ROWS = 200;

/** Watchers of one H3 cell: sockets watching it (at the coarse level: sockets watching any cell inside it). */
export type CellWatchers = { cell: string; watchers: number };

/**
 * `live.demand` (privileged: raw counts, no privacy threshold): the watchers per cell inside a box
 * at one of the two demand levels (lib/demand.ts demandLevels), across the cluster as the answering
 * live node knows them (its own sockets, and every other live node's counts of the routing cells
 * the box overlaps, within a couple of seconds). Cells with no watcher are left out.
 */
export type DemandCountsParams = { bbox: BBox | string; res?: number };
export type DemandCounts = {
	bbox: BBox;
	res: number;
	cells: CellWatchers[];
	/** Live nodes whose counts are in the answer, this one included. */
	nodes: number;
};

/** `GET /api/discovery/demand?bbox=w,s,e,n&res=` (vendors: near one of their vendors; admins: anywhere). */
export type DemandQuery = { bbox: string; res?: number };
/** Cells with fewer watchers than `minCount` (DEMAND_MIN_COUNT) are left out; `total` sums the cells shown. */
export type DemandAnswer = { bbox: BBox; res: number; minCount: number; total: number; cells: CellWatchers[] };

const CELL_WATCHERS_SCHEMA = {
	type: "object",
	additionalProperties: false,
	required: ["cell", "watchers"],
	properties: { cell: { type: "string" }, watchers: { type: "integer", minimum: 1 } },
} as const;
export const DEMAND_ANSWER_SCHEMA = {
	title: "DemandAnswer",
	type: "object",
	additionalProperties: false,
	required: ["bbox", "res", "minCount", "total", "cells"],
	properties: {
		bbox: HEATMAP_RESULT_SCHEMA.properties.bbox,
		res: { type: "integer", minimum: 0, maximum: 15 },
		minCount: { type: "integer", minimum: 1, description: "DEMAND_MIN_COUNT: cells with fewer watchers are left out." },
		total: { type: "integer", minimum: 0, description: "The watchers of the cells shown." },
		cells: { type: "array", items: CELL_WATCHERS_SCHEMA, description: "Busiest first." },
	},
} as const;

/** A vendor account reads the demand of boxes within this distance of one of its vendors' positions (live or fixed). */
export const DEMAND_VENDOR_AREA_M = 10_000;

/** `GET /api/vendors/:id/suggestions?radius=&limit=` (the vendor's owner or an admin). */
export type SuggestionsParams = { id: string; radius?: number; limit?: number };
/** A cell worth going to: its watchers, the online vendors sharing a category with this one there, and the ranking score watchers ÷ (vendors + 1). */
export type Suggestion = LatLng & { cell: string; distance: number; watchers: number; vendors: number; score: number };
export type SuggestionsAnswer = {
	vendorId: string;
	/** The vendor's position the ranking starts from (live, else the stall's fixed location). */
	from: LatLng;
	radius: number;
	res: number;
	minCount: number;
	suggestions: Suggestion[];
};
export const DEFAULT_SUGGESTION_RADIUS_M = 3_000;
export const MAX_SUGGESTION_RADIUS_M = 10_000;
export const DEFAULT_SUGGESTIONS = 5;
export const MAX_SUGGESTIONS = 20;

export const SUGGESTIONS_ANSWER_SCHEMA = {
	title: "SuggestionsAnswer",
	type: "object",
	additionalProperties: false,
	required: ["vendorId", "from", "radius", "res", "minCount", "suggestions"],
	properties: {
		vendorId: { type: "string" },
		from: { ...LAT_LNG_SCHEMA, description: "The vendor's live position, else its stall's fixed location." },
		radius: { type: "integer", minimum: 1, maximum: MAX_SUGGESTION_RADIUS_M },
		res: { type: "integer", minimum: 0, maximum: 15 },
		minCount: { type: "integer", minimum: 1 },
		suggestions: {
			type: "array",
			description: "Highest score first (ties: nearer first): a simple ranking, not a promise.",
			items: {
				type: "object",
				additionalProperties: false,
				required: ["cell", "lat", "lng", "distance", "watchers", "vendors", "score"],
				properties: {
					cell: { type: "string" },
					lat: LAT_LNG_SCHEMA.properties.lat,
					lng: LAT_LNG_SCHEMA.properties.lng,
					distance: { type: "integer", minimum: 0, description: "Metres from `from` to the cell's centre, rounded." },
					watchers: { type: "integer", minimum: 1 },
					vendors: { type: "integer", minimum: 0, description: "Other online vendors there sharing a category with this one." },
					score: { type: "number", minimum: 0, description: "watchers ÷ (vendors + 1), to two decimals." },
				},
			},
		},
	},
} as const;
