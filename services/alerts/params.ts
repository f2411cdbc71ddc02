import { vendorIdParam } from "../../lib/ids.ts";
import { MAX_ALERT_RADIUS_M, MAX_FENCE_CELLS, MAX_POLYGON_POINTS, MIN_ALERT_INTERVAL_S, MIN_ALERT_RADIUS_M } from "./contract.ts";

/**
 * The fastest-validator rules of the alerts service. They check shapes and ranges; what depends
 * on several fields (which belong to which kind) and on geometry (area, self-intersection, H3
 * cells) is checked in `compile.ts`.
 */

const latLng = {
	type: "object",
	strict: true,
	props: { lat: { type: "number", min: -90, max: 90 }, lng: { type: "number", min: -180, max: 180 } },
} as const;

/** `[lng, lat]` */
const point = {
	type: "array",
	min: 2,
	max: 2,
	items: { type: "number", min: -180, max: 180 },
} as const;

/** Up to MAX_POLYGON_POINTS + 1: a closed ring repeats its first point. */
export const pointsParam = { type: "array", min: 3, max: MAX_POLYGON_POINTS + 1, items: point } as const;

const category = { type: "string", trim: true, lowercase: true, min: 1, max: 40 } as const;

const strictObject = (props: Record<string, unknown>) => ({ type: "object", strict: true, props }) as const;

const vendorTarget = {
	type: "multi",
	optional: true,
	rules: [strictObject({ id: vendorIdParam }), strictObject({ favorites: { type: "equal", value: true } }), strictObject({ category })],
} as const;

const areaShape = {
	type: "multi",
	optional: true,
	rules: [
		strictObject({ type: { type: "equal", value: "circle" }, center: latLng, radius: { type: "number", min: MIN_ALERT_RADIUS_M } }),
		strictObject({ type: { type: "equal", value: "polygon" }, points: pointsParam }),
		strictObject({
			type: { type: "equal", value: "cells" },
			cells: { type: "array", min: 1, max: MAX_FENCE_CELLS, unique: true, items: { type: "string", min: 1, max: 16 } },
		}),
	],
} as const;

const intervalParam = { type: "number", integer: true, min: MIN_ALERT_INTERVAL_S, max: 86_400, optional: true } as const;

export const createAlertParams = {
	$$strict: true,
	kind: { type: "enum", values: ["vendor_nearby", "area"] },
	vendor: vendorTarget,
	radius: { type: "number", min: MIN_ALERT_RADIUS_M, max: MAX_ALERT_RADIUS_M, optional: true },
	at: { type: "multi", optional: true, rules: [latLng, { type: "equal", value: "here" }] },
	filter: {
		...strictObject({
			categories: { type: "array", optional: true, min: 1, max: 10, unique: true, items: category },
			favorites: { type: "boolean", optional: true },
		}),
		optional: true,
	},
	area: areaShape,
	on: { type: "array", optional: true, min: 1, max: 2, unique: true, items: { type: "enum", values: ["enter", "exit"] } },
	minIntervalS: intervalParam,
} as const;

export const createZoneParams = {
	$$strict: true,
	name: { type: "string", trim: true, min: 1, max: 80 },
	points: pointsParam,
	on: { type: "array", optional: true, min: 1, max: 3, unique: true, items: { type: "enum", values: ["enter", "exit", "dwell"] } },
	dwellS: { type: "number", integer: true, min: 1, max: 86_400, optional: true },
} as const;
