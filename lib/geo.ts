/**
 * Geography shared by every layer: one point type, one box type, one earth radius, one
 * radius cap. Pure (the map page bundles it too).
 */

export type LatLng = { lat: number; lng: number };

/** LatLng as JSON Schema. */
export const LAT_LNG_SCHEMA = {
	title: "LatLng",
	type: "object",
	additionalProperties: false,
	required: ["lat", "lng"],
	properties: { lat: { type: "number", minimum: -90, maximum: 90 }, lng: { type: "number", minimum: -180, maximum: 180 } },
} as const;

/** `[west, south, east, north]` in degrees; west > east crosses the antimeridian (a view over the Pacific). */
export type BBox = readonly [west: number, south: number, east: number, north: number];

/** Redis' own constant, so the embedded and the Redis geo store agree to the millimetre. */
export const EARTH_RADIUS_M = 6_372_797.560856;

/** Largest radius of any search or watch (nearby, `near` watches, the REPL's `near`). */
export const MAX_RADIUS_M = 50_000;

const RAD = Math.PI / 180;

/** Great-circle (haversine) distance in metres. */
export function distanceM(lat1: number, lng1: number, lat2: number, lng2: number): number {
	const dLat = (lat2 - lat1) * RAD;
	const dLng = (lng2 - lng1) * RAD;
	const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLng / 2) ** 2;
	return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** `distanceM` between two points. */
export const distanceBetween = (a: LatLng, b: LatLng): number => distanceM(a.lat, a.lng, b.lat, b.lng);

export function isValidBBox(b: unknown): b is BBox {
	if (!Array.isArray(b) || b.length !== 4 || !b.every(v => typeof v === "number" && Number.isFinite(v))) return false;
	const [w, s, e, n] = b as unknown as BBox;
	return w >= -180 && w <= 180 && e >= -180 && e <= 180 && s >= -90 && n <= 90 && w !== e && s < n;
}

/** A box from `"w,s,e,n"` or an array of four numbers; undefined when it is not a valid box. */
export function parseBBox(value: string | readonly unknown[]): BBox | undefined {
	const parts = typeof value === "string" ? value.split(",").map(v => (v.trim() === "" ? Number.NaN : Number(v))) : [...value];
	return isValidBBox(parts) ? parts : undefined;
}

/** The bbox as one or two boxes that do not cross the antimeridian. */
export function splitBBox(bbox: BBox): BBox[] {
	const [w, s, e, n] = bbox;
	return w < e
		? [bbox]
		: [
				[w, s, 180, n],
				[-180, s, e, n],
			];
}

export const inBBox = ([w, s, e, n]: BBox, lat: number, lng: number): boolean => lng >= w && lng <= e && lat >= s && lat <= n;

/** Approximate area of a bbox in km² (good enough to refuse huge areas before any cell work). */
export function bboxAreaKm2(bbox: BBox): number {
	const r = EARTH_RADIUS_M / 1000;
	return splitBBox(bbox).reduce((sum, [w, s, e, n]) => sum + r * r * Math.abs(Math.sin(n * RAD) - Math.sin(s * RAD)) * (e - w) * RAD, 0);
}

/** A lat/lng box that contains the circle (longitudes widen towards the poles; clamped at the poles; may pass ±180). */
export function circleBounds(center: LatLng, radiusM: number): { south: number; north: number; west: number; east: number } {
	const dLat = radiusM / EARTH_RADIUS_M / RAD;
	const cos = Math.cos(center.lat * RAD);
	const dLng = cos < 1e-6 ? 180 : Math.min(180, dLat / cos);
	return {
		south: Math.max(-90, center.lat - dLat),
		north: Math.min(90, center.lat + dLat),
		west: center.lng - dLng,
		east: center.lng + dLng,
	};
}
