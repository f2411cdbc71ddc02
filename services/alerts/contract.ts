/**
 * The alerts contract: what a customer's alert and an operator's zone are, the fence the geo
 * service evaluates for each, the limits, and the payloads of the two domain events and of the
 * socket's `alert` frame. Dependency-free: the alerts service, the geo evaluator, the live
 * gateway and the outbound webhooks speak these types.
 */
import { LAT_LNG_SCHEMA, type LatLng } from "../../lib/geo.ts";
import { DATE_TIME } from "../../lib/openapi.ts";

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

/**
 * Which vendors a fence is about: a vendor must pass every field given; `{}` = every vendor.
 * Favourites are resolved to ids by the alerts service, so `vendorIds: []` (a user without
 * favourites) matches no vendor.
 */
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

/* REST and internal calls of the alerts service. */

/** `POST /api/me/alerts`: the fields of either kind, flat (the service checks which belong to `kind`). */
export type CreateAlertParams = {
	kind: AlertInput["kind"];
	vendor?: { id: string } | { favorites: true } | { category: string };
	radius?: number;
	at?: LatLng | "here";
	filter?: { categories?: string[]; favorites?: boolean };
	area?: FenceShape;
	on?: ("enter" | "exit")[];
	minIntervalS?: number;
};
export type CreateZoneParams = ZoneInput;
export type IdParams = { id: string };
export type AlertList = { rows: Alert[]; total: number };
export type ZoneList = { rows: Zone[]; total: number };

const POINTS_SCHEMA = {
	type: "array",
	description: "[lng, lat] pairs (GeoJSON order), not closed.",
	items: { type: "array", prefixItems: [{ type: "number" }, { type: "number" }], minItems: 2, maxItems: 2 },
} as const;
const INTERVAL_SCHEMA = { type: "integer", minimum: MIN_ALERT_INTERVAL_S } as const;
const OWNED = { id: { type: "string" }, userId: { type: "string" }, createdAt: DATE_TIME } as const;

const SHAPE_SCHEMA = {
	oneOf: [
		{
			type: "object",
			required: ["type", "center", "radius"],
			properties: { type: { const: "circle" }, center: LAT_LNG_SCHEMA, radius: { type: "number" } },
		},
		{ type: "object", required: ["type", "points"], properties: { type: { const: "polygon" }, points: POINTS_SCHEMA } },
		{
			type: "object",
			required: ["type", "cells"],
			properties: { type: { const: "cells" }, cells: { type: "array", items: { type: "string" } } },
		},
	],
} as const;

/** Alert as JSON Schema (defaults filled in: `minIntervalS`, an area's `filter` and `on`). */
export const ALERT_SCHEMA = {
	title: "Alert",
	oneOf: [
		{
			type: "object",
			additionalProperties: false,
			required: ["id", "userId", "createdAt", "kind", "vendor", "radius", "at", "minIntervalS"],
			properties: {
				...OWNED,
				kind: { const: "vendor_nearby" },
				vendor: { type: "object", description: "{ id } | { favorites: true } | { category }" },
				radius: { type: "number", minimum: MIN_ALERT_RADIUS_M, maximum: MAX_ALERT_RADIUS_M },
				at: { anyOf: [LAT_LNG_SCHEMA, { const: "here" }] },
				minIntervalS: INTERVAL_SCHEMA,
			},
		},
		{
			type: "object",
			additionalProperties: false,
			required: ["id", "userId", "createdAt", "kind", "filter", "area", "on", "minIntervalS"],
			properties: {
				...OWNED,
				kind: { const: "area" },
				filter: {
					type: "object",
					properties: { categories: { type: "array", items: { type: "string" } }, favorites: { type: "boolean" } },
				},
				area: SHAPE_SCHEMA,
				on: { type: "array", items: { enum: ["enter", "exit"] } },
				minIntervalS: INTERVAL_SCHEMA,
			},
		},
	],
} as const;

export const ALERT_LIST_SCHEMA = {
	title: "AlertList",
	type: "object",
	additionalProperties: false,
	required: ["rows", "total"],
	properties: { rows: { type: "array", items: ALERT_SCHEMA }, total: { type: "integer", minimum: 0 } },
} as const;

/** Zone as JSON Schema (defaults filled in: `on`). */
export const ZONE_SCHEMA = {
	title: "Zone",
	type: "object",
	additionalProperties: false,
	required: ["id", "name", "points", "on", "createdAt"],
	properties: {
		id: { type: "string" },
		name: { type: "string" },
		points: POINTS_SCHEMA,
		on: { type: "array", items: { enum: ["enter", "exit", "dwell"] } },
		dwellS: { type: "integer", minimum: 1 },
		createdAt: DATE_TIME,
	},
} as const;

export const ZONE_LIST_SCHEMA = {
	title: "ZoneList",
	type: "object",
	additionalProperties: false,
	required: ["rows", "total"],
	properties: { rows: { type: "array", items: ZONE_SCHEMA }, total: { type: "integer", minimum: 0 } },
} as const;
