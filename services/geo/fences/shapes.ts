import { cellsToMultiPolygon, getResolution, latLngToCell } from "h3-js";
import { circleBounds, distanceM, EARTH_RADIUS_M, type LatLng } from "../../../lib/geo.ts";
import { distanceToRingM, openRing, pointInRing, type Ring } from "../../../lib/polygon.ts";
import { EXIT_MARGIN_M, EXIT_RADIUS_FACTOR, type FenceShape } from "../../alerts/contract.ts";

/**
 * Where a position is against a fence with hysteresis: `in` meets the enter rule, `out` is beyond
 * the exit rule, `band` is between the two (a vendor there keeps whatever state it had).
 */
export type Side = "in" | "out" | "band";

/** The box a shape grown by its exit margin fits in: the part of the world its index cells cover. */
export type Bounds = { south: number; north: number; west: number; east: number };

/** A fence's shape, ready to test positions against. */
export type CompiledShape = {
	bounds: Bounds;
	observe(lat: number, lng: number): Side;
	/** Metres from a circle's center; 0 inside a polygon or cell set, else metres to its edge (what a fired event says). */
	distance(lat: number, lng: number): number;
};

const RAD = Math.PI / 180;

export function compileShape(shape: FenceShape): CompiledShape | null {
	switch (shape.type) {
		case "circle":
			return shape.center ? circle(shape.center, shape.radius) : null;
		case "polygon":
			return region([openRing(shape.points)], null);
		case "cells":
			return shape.cells.length > 0 ? cells(shape.cells) : null;
	}
}

/** Entered at distance ≤ radius, left beyond radius × EXIT_RADIUS_FACTOR. */
function circle(center: LatLng, radius: number): CompiledShape {
	const exitAt = radius * EXIT_RADIUS_FACTOR;
	const bounds = circleBounds(center, exitAt);
	return {
		bounds,
		observe(lat, lng) {
			if (!inBounds(bounds, lat, lng)) return "out";
			const distance = distanceM(center.lat, center.lng, lat, lng);
			return distance <= radius ? "in" : distance > exitAt ? "out" : "band";
		},
		distance: (lat, lng) => distanceM(center.lat, center.lng, lat, lng),
	};
}

/**
 * Entered inside, left beyond EXIT_MARGIN_M from the nearest edge. `contains` decides inside when
 * given (a cell set: the point's cell is one of them); rings are tested even-odd otherwise.
 */
function region(rings: Ring[], contains: ((lat: number, lng: number) => boolean) | null): CompiledShape {
	const bounds = grow(ringsBounds(rings), EXIT_MARGIN_M);
	const inside = contains ?? ((lat: number, lng: number) => rings.reduce((odd, ring) => odd !== pointInRing(lat, lng, ring), false));
	const toEdge = (lat: number, lng: number) =>
		rings.reduce((d, ring) => Math.min(d, distanceToRingM(lat, lng, ring)), Number.POSITIVE_INFINITY);
	return {
		bounds,
		observe(lat, lng) {
			if (!inBounds(bounds, lat, lng)) return "out";
			if (inside(lat, lng)) return "in";
			return toEdge(lat, lng) > EXIT_MARGIN_M ? "out" : "band";
		},
		distance: (lat, lng) => (inside(lat, lng) ? 0 : toEdge(lat, lng)),
	};
}

/**
 * A set of H3 cells (any resolutions): inside when the point's cell at one of those resolutions
 * is in the set, exact; the exit margin is measured to the outline H3 draws around the set.
 */
function cells(list: readonly string[]): CompiledShape {
	const set = new Set(list);
	const resolutions = [...new Set(list.map(getResolution))];
	const rings = cellsToMultiPolygon([...set], true).flatMap(polygon => polygon.map(loop => openRing(loop as [number, number][])));
	return region(rings, (lat, lng) => resolutions.some(res => set.has(latLngToCell(lat, lng, res))));
}

const inBounds = (b: Bounds, lat: number, lng: number) => lat >= b.south && lat <= b.north && lng >= b.west && lng <= b.east;

function ringsBounds(rings: readonly Ring[]): Bounds {
	const b = { south: 90, north: -90, west: 180, east: -180 };
	for (const ring of rings)
		for (const [lng, lat] of ring) {
			b.south = Math.min(b.south, lat);
			b.north = Math.max(b.north, lat);
			b.west = Math.min(b.west, lng);
			b.east = Math.max(b.east, lng);
		}
	return b;
}

/** The box widened by `metres` on every side (longitudes at the box's widest latitude). */
function grow(b: Bounds, metres: number): Bounds {
	const dLat = metres / EARTH_RADIUS_M / RAD;
	const cos = Math.cos(Math.min(89, Math.max(Math.abs(b.south), Math.abs(b.north))) * RAD);
	const dLng = dLat / cos;
	return { south: Math.max(-90, b.south - dLat), north: Math.min(90, b.north + dLat), west: b.west - dLng, east: b.east + dLng };
}
