import turfArea from "@turf/area";
import turfKinks from "@turf/kinks";
import { EARTH_RADIUS_M } from "./geo.ts";

/**
 * Polygons as fences use them: `[lng, lat]` rings (GeoJSON order), open (the last point is not
 * the first again). Area and self-intersection, checked once when a fence is defined, come from
 * Turf; point-in-polygon and the distance to the edge run for every position near a fence, so
 * they are written here to allocate nothing per call (Turf's take GeoJSON features).
 */
export type Ring = readonly (readonly [lng: number, lat: number])[];

const RAD = Math.PI / 180;

const samePoint = (a: readonly [number, number], b: readonly [number, number]) => a[0] === b[0] && a[1] === b[1];

/** The ring without repeated consecutive points and without a closing point equal to the first. */
export function openRing(points: Ring): [number, number][] {
	const out: [number, number][] = [];
	for (const p of points) if (out.length === 0 || !samePoint(out[out.length - 1]!, p)) out.push([p[0], p[1]]);
	while (out.length > 1 && samePoint(out[0]!, out[out.length - 1]!)) out.pop();
	return out;
}

/** How many different points the ring has. */
export const distinctPointCount = (points: Ring): number => new Set(points.map(([lng, lat]) => `${lng},${lat}`)).size;

const asPolygon = (ring: Ring) => ({
	type: "Polygon" as const,
	coordinates: [[...ring.map(([lng, lat]) => [lng, lat]), [ring[0]![0], ring[0]![1]]]],
});

/** Geodesic area of the (open) ring in km². */
export const polygonAreaKm2 = (ring: Ring): number => turfArea(asPolygon(ring)) / 1e6;

/** Whether two edges of the (open) ring cross or touch anywhere but at their shared corner. */
export const selfIntersects = (ring: Ring): boolean => turfKinks(asPolygon(ring)).features.length > 0;

/** Whether the point is inside the (open) ring: even-odd ray casting in degrees (fences never cross the antimeridian). */
export function pointInRing(lat: number, lng: number, ring: Ring): boolean {
	let inside = false;
	for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
		const [xi, yi] = ring[i]!;
		const [xj, yj] = ring[j]!;
		if (yi > lat !== yj > lat && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
	}
	return inside;
}

/**
 * Metres from the point to the nearest edge of the ring, on a local equirectangular projection
 * around the point: within a fraction of a percent at the sizes of fences (≤ MAX_FENCE_AREA_KM2).
 */
export function distanceToRingM(lat: number, lng: number, ring: Ring): number {
	const kx = Math.cos(lat * RAD) * RAD * EARTH_RADIUS_M;
	const ky = RAD * EARTH_RADIUS_M;
	let best = Number.POSITIVE_INFINITY;
	for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
		const ax = (ring[j]![0] - lng) * kx;
		const ay = (ring[j]![1] - lat) * ky;
		const bx = (ring[i]![0] - lng) * kx;
		const by = (ring[i]![1] - lat) * ky;
		const dx = bx - ax;
		const dy = by - ay;
		const len2 = dx * dx + dy * dy;
		const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
		const px = ax + t * dx;
		const py = ay + t * dy;
		best = Math.min(best, px * px + py * py);
	}
	return Math.sqrt(best);
}
