import type { LatLng } from "./vendor-model.ts";

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres (haversine). */
export function distanceMetres(a: LatLng, b: LatLng): number {
	const dLat = rad(b.lat - a.lat);
	const dLng = rad(b.lng - a.lng);
	const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
	return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A lat/lng box that contains the circle (longitudes widen towards the poles; clamped at the poles). */
export function boundingBox(center: LatLng, radiusM: number): { south: number; north: number; west: number; east: number } {
	const dLat = (radiusM / EARTH_RADIUS_M) * (180 / Math.PI);
	const cos = Math.cos(rad(center.lat));
	const dLng = cos < 1e-6 ? 180 : Math.min(180, dLat / cos);
	return { south: Math.max(-90, center.lat - dLat), north: Math.min(90, center.lat + dLat), west: center.lng - dLng, east: center.lng + dLng };
}
