/** What the discovery service takes and answers (dependency-free). */
import type { LatLng } from "../../lib/geo.ts";
import type { HeatmapResult } from "../geo/contract.ts";
import type { Vendor } from "../vendors/contract.ts";

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

/** `GET /api/discovery/heatmap?bbox=w,s,e,n&res=` */
export type HeatmapQuery = { bbox: string; res?: number };
export type { HeatmapResult };

export const DEFAULT_RADIUS_M = 5_000;
export const DEFAULT_NEARBY_LIMIT = 50;
export const MAX_NEARBY_ROWS = 200;
