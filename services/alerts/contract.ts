/**
 * The alerts contract: what a customer's alert and an operator's zone are, the fence the geo
 * service evaluates for each, the limits, and the payloads of the two domain events and of the
 * socket's `alert` frame. Dependency-free: the alerts service, the geo evaluator, the live
 * gateway and the outbound webhooks speak these types.
 */
import type { LatLng } from "../../lib/geo.ts";

/** Most alerts one user may own. */
export const MAX_ALERTS_PER_USER = 20;
/** A `vendor_nearby` radius (metres). */
export const MIN_ALERT_RADIUS_M = 50;
export const MAX_ALERT_RADIUS_M = 10_000;
/** Polygons: at least 3 distinct points, at most this many, and no larger than MAX_FENCE_AREA_KM2. */
export const MAX_POLYGON_POINTS = 200;
export const MAX_FENCE_AREA_KM2 = 100;
/** Most H3 cells an `area` given as cells may list. */
export const MAX_FENCE_CELLS = 500;
/** Zones (operators' fences) per namespace. */
export const MAX_ZONES = 1_000;
/** Hysteresis: a circle is left beyond radius × EXIT_RADIUS_FACTOR, a polygon or cell set beyond EXIT_MARGIN_M outside it. */
export const EXIT_RADIUS_FACTOR = 1.1;
export const EXIT_MARGIN_M = 30;
/** One alert fires at most once per this many seconds per vendor (a user may ask for more, never less). */
export const MIN_ALERT_INTERVAL_S = 60;
/** A customer's shared position (`{"op":"here"}`) is forgotten after this long without a new one. */
export const HERE_TTL_S = 600;

/** `[lng, lat]` pairs, GeoJSON order. */
export type PolygonPoints = [number, number][];

/**
 * Where a fence is. A roaming circle follows its owner's shared position (its `center` is the last
 * one): the alerts service compiles it with `center: null`, and it tests nothing while it is null.
 * A customer's `area` circle always has a center.
 */
export type FenceShape =
	| { type: "circle"; center: LatLng | null; radius: number }
	| { type: "polygon"; points: PolygonPoints }
	| { type: "cells"; cells: string[] };

/** Which vendors a fence is about; empty = every vendor. Favourites are resolved to ids by the alerts service. */
export type VendorFilter = { vendorIds?: string[]; categories?: string[] };

export type Transition = "enter" | "exit" | "dwell";

/** What the customer asks for (`POST /api/me/alerts`). */
export type AlertInput =
	| {
			kind: "vendor_nearby";
			/** One vendor, the user's favourites, or a category. */
			vendor: { id: string } | { favorites: true } | { category: string };
			radius: number;
			/** A fixed point, or "here": the customer's own live position shared over their socket. */
			at: LatLng | "here";
			minIntervalS?: number;
	  }
	| {
			kind: "area";
			filter: { categories?: string[]; favorites?: boolean };
			area: FenceShape;
			/** Default ["enter"]. */
			on?: ("enter" | "exit")[];
			minIntervalS?: number;
	  };

export type Alert = AlertInput & { id: string; userId: string; createdAt: string };

/** What an operator defines (admin REST and the REPL). */
export type ZoneInput = { name: string; points: PolygonPoints; on?: Transition[]; dwellS?: number };
export type Zone = ZoneInput & { id: string; createdAt: string };

/** What the geo evaluator tests positions against: one per alert or zone. */
export type Fence = {
	/** The alert's or zone's id. */
	id: string;
	kind: "vendor_nearby" | "area" | "zone";
	/** The owning customer; null for a zone. */
	userId: string | null;
	/** A zone's name. */
	name?: string;
	shape: FenceShape;
	/** The circle's center follows the owner's `here` position (vendor_nearby with at: "here"). */
	roaming: boolean;
	filter: VendorFilter;
	on: Transition[];
	dwellS?: number;
	minIntervalS: number;
};

/** Internal broadcast from the alerts service to every geo node when fences change. */
export const FENCES_CHANGED_EVENT = "alerts.fences.changed";
export type FencesChanged = { upsert: Fence[]; remove: string[] };
/** Internal broadcast from a live node: a customer's shared position (null = stopped sharing). */
export const HERE_EVENT = "alerts.here";
export type HereUpdate = { userId: string; at: LatLng | null };

/** `data` of `location.proximity_alert` (vendor_nearby) and `location.geofence_triggered` (area, zone). */
export type AlertFired = {
	fenceId: string;
	kind: Fence["kind"];
	userId: string | null;
	name?: string;
	vendorId: string;
	transition: Transition;
	/** Metres from the fence's center (circles) or 0 inside a polygon/cells. */
	distance: number;
	position: { lat: number; lng: number; ts: number };
};
/* The socket frames (`alert` out, `here` in) are protocol: packages/client/src/protocol/frames.ts. */
