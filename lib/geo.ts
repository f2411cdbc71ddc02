import type { LatLng } from "../services/vendors/model.ts";

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** A lat/lng box that contains the circle (longitudes widen towards the poles; clamped at the poles). */
export function boundingBox(center: LatLng, radiusM: number): { south: number; north: number; west: number; east: number } {
	const dLat = (radiusM / EARTH_RADIUS_M) * (180 / Math.PI);
	const cos = Math.cos(rad(center.lat));
	const dLng = cos < 1e-6 ? 180 : Math.min(180, dLat / cos);
	return { south: Math.max(-90, center.lat - dLat), north: Math.min(90, center.lat + dLat), west: center.lng - dLng, east: center.lng + dLng };
}
