/**
 * What the geo service takes and answers: params, results and limits. Dependency-free, so a
 * live-only node (and anything else that calls geo) loads no store code.
 */
import type { BBox } from "../../lib/geo.ts";
import { POSITION_PROPERTIES, type Position, type PositionInput } from "../../lib/position.ts";

/** A vendor's position with its H3 cell at H3_RES. */
export type StoredPosition = Position & { vendorId: string; cell: string };

/** What geo.get answers: the latest position and whether the vendor is online now. */
export type VendorLocation = StoredPosition & { online: boolean };

export type NearbyHit = VendorLocation & { distance: number };

/** VendorLocation as JSON Schema. */
export const VENDOR_LOCATION_SCHEMA = {
	title: "VendorLocation",
	type: "object",
	additionalProperties: false,
	required: ["vendorId", "lat", "lng", "ts", "cell", "online"],
	properties: {
		vendorId: { type: "string" },
		...POSITION_PROPERTIES,
		cell: { type: "string", description: "The H3 cell at H3_RES." },
		online: { type: "boolean" },
	},
} as const;

/** Where the vendor was before a write: its cell and whether it was online. */
export type PreviousPlace = { cell: string; online: boolean } | null;

export type UpdateParams = { vendorId: string } & PositionInput;
export type UpdateResult =
	| { applied: true; location: VendorLocation; previous: PreviousPlace }
	/** Older than the stored position: dropped, nothing changed. */
	| { applied: false; reason: "stale" };
/**
 * A live gateway's batch. Each position may carry the H3 cell (at H3_RES, which every node
 * shares) the live node computed when it streamed it, so geo does not compute it again.
 */
export type UpdateManyParams = { positions: (UpdateParams & { cell?: string })[] };
/** One result per position of geo.updateMany, in order: applied, stale, or invalid (and why). */
export type InvalidPosition = { applied: false; reason: "invalid"; field: string; message: string };
export type UpdateManyItemResult = UpdateResult | InvalidPosition;

export type GetParams = { vendorId: string };
export type NearbyParams = { lat: number; lng: number; radius: number; limit?: number };
/** `bbox` as `"w,s,e,n"` (a query string) or `[w, s, e, n]`. */
export type HeatmapParams = { bbox: BBox | string; res?: number };
export type HeatmapResult = { bbox: BBox; res: number; total: number; cells: { cell: string; count: number }[] };
export const HEATMAP_RESULT_SCHEMA = {
	title: "HeatmapResult",
	type: "object",
	additionalProperties: false,
	required: ["bbox", "res", "total", "cells"],
	properties: {
		bbox: {
			type: "array",
			description: "[west, south, east, north]",
			prefixItems: [{ type: "number" }, { type: "number" }, { type: "number" }, { type: "number" }],
			minItems: 4,
			maxItems: 4,
		},
		res: { type: "integer", minimum: 0, maximum: 15 },
		total: { type: "integer", minimum: 0 },
		cells: {
			type: "array",
			items: {
				type: "object",
				additionalProperties: false,
				required: ["cell", "count"],
				properties: { cell: { type: "string" }, count: { type: "integer", minimum: 1 } },
			},
		},
	},
} as const;
export type InCellsParams = { cells: readonly string[] };
export type SetOfflineParams = { vendorId: string };
export type SetOfflineResult = { wasOnline: boolean; cell: string | null };
export type HistoryParams = { vendorId: string };

/**
 * A change watchers must see: a position in `cell` (with `gone` on `previousCell` when the
 * vendor left it), or, without a position, the vendor gone from `cell`. What `live.route` takes.
 */
export type PositionChange = { vendorId: string; cell: string; position?: Position; previousCell?: string | null };

/** `location.vendor_offline` data: the vendor left `cell` (watchers get `gone`). */
export type VendorOffline = { vendorId: string; cell: string; lastTs: number };

/** The change an applied write makes visible. */
export function changeOf(result: Extract<UpdateResult, { applied: true }>): PositionChange {
	const { vendorId, cell, online: _online, ...position } = result.location;
	return { vendorId, cell, position, previousCell: result.previous?.online ? result.previous.cell : null };
}

/** Positions kept per vendor by geo.history. */
export const HISTORY_LENGTH = 50;
/** location.vendor_location_updated is emitted at most this often per vendor. */
export const LOCATION_EVENT_EVERY_MS = 5_000;
export const MAX_NEARBY_LIMIT = 500;
/** A position write that geo has not answered in this long goes to another geo node (hot path: never the 10 s default). */
export const GEO_WRITE_TIMEOUT_MS = 1_000;
/** Largest batch geo.updateMany takes. */
export const UPDATE_MANY_MAX = 1_000;
