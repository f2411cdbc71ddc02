/** What the discovery service takes and answers (dependency-free). */
import type { LatLng } from "../../lib/geo.ts";
import { POSITION_PROPERTIES } from "../../lib/position.ts";
import type { HeatmapResult } from "../geo/contract.ts";
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
