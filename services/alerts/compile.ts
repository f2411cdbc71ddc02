import { cellArea, isValidCell } from "h3-js";
import { validationError } from "../../lib/errors.ts";
import { distinctPointCount, openRing, polygonAreaKm2, selfIntersects } from "../../lib/polygon.ts";
import {
	MAX_FENCE_AREA_KM2,
	MAX_POLYGON_POINTS,
	MIN_ALERT_INTERVAL_S,
	type Alert,
	type AlertInput,
	type CreateAlertParams,
	type CreateZoneParams,
	type Fence,
	type FenceShape,
	type PolygonPoints,
	type Transition,
	type Zone,
	type ZoneInput,
} from "./contract.ts";

/**
 * What fastest-validator cannot say about an alert or a zone (which fields belong to which kind,
 * and the geometry), and the compilation of each into the one `Fence` the geo service evaluates.
 * Messages name the field and the limit, never the input.
 */

const invalid = (field: string, type: string, message: string) => validationError(message, [{ type, field, message }]);

/** The ring, open and without repeated points, or a 422 on `field`. */
export function checkPolygon(points: PolygonPoints, field: string): PolygonPoints {
	const ring = openRing(points);
	if (ring.some(([, lat]) => lat < -90 || lat > 90)) throw invalid(field, "polygon", "Polygon latitudes must be within [-90, 90]");
	if (distinctPointCount(ring) < 3 || ring.length < 3) throw invalid(field, "polygon", "A polygon needs at least 3 distinct points");
	if (ring.length > MAX_POLYGON_POINTS) throw invalid(field, "polygon", `A polygon has at most ${MAX_POLYGON_POINTS} points`);
	if (selfIntersects(ring)) throw invalid(field, "polygonSelfIntersection", "The polygon's edges cross each other");
	const area = polygonAreaKm2(ring);
	if (area === 0) throw invalid(field, "polygon", "The polygon has no area (its points are on one line)");
	if (area > MAX_FENCE_AREA_KM2) throw invalid(field, "fenceArea", `A fence covers at most ${MAX_FENCE_AREA_KM2} km²`);
	return ring;
}

function checkShape(shape: FenceShape): FenceShape {
	if (shape.type === "polygon") return { type: "polygon", points: checkPolygon(shape.points, "area.points") };
	if (shape.type === "circle") {
		if (Math.PI * (shape.radius / 1000) ** 2 > MAX_FENCE_AREA_KM2)
			throw invalid("area.radius", "fenceArea", `A fence covers at most ${MAX_FENCE_AREA_KM2} km²`);
		return shape;
	}
	if (!shape.cells.every(cell => isValidCell(cell))) throw invalid("area.cells", "h3", "Every cell must be an H3 cell id");
	if (shape.cells.reduce((sum, cell) => sum + cellArea(cell, "km2"), 0) > MAX_FENCE_AREA_KM2)
		throw invalid("area.cells", "fenceArea", `A fence covers at most ${MAX_FENCE_AREA_KM2} km²`);
	return shape;
}

/** Fields of the other kind may not be sent; the kind's own required ones must. */
function checkFields(params: CreateAlertParams, required: (keyof CreateAlertParams)[], foreign: (keyof CreateAlertParams)[]) {
	const problems = [
		...required.filter(f => params[f] === undefined).map(field => ({ type: "required", field, message: `${params.kind} needs ${field}` })),
		...foreign
			.filter(f => params[f] !== undefined)
			.map(field => ({ type: "forbidden", field, message: `${params.kind} takes no ${field}` })),
	];
	if (problems.length > 0) throw validationError("Invalid alert", problems);
}

/** The alert as stored: checked, with its defaults (`minIntervalS`, an area's `filter` and `on`). */
export function checkAlert(params: CreateAlertParams): AlertInput {
	const minIntervalS = params.minIntervalS ?? MIN_ALERT_INTERVAL_S;
	if (params.kind === "vendor_nearby") {
		checkFields(params, ["vendor", "radius", "at"], ["filter", "area", "on"]);
		const { vendor, radius, at } = params as Required<CreateAlertParams>;
		return { kind: "vendor_nearby", vendor, radius, at, minIntervalS };
	}
	checkFields(params, ["area"], ["vendor", "radius", "at"]);
	return { kind: "area", filter: params.filter ?? {}, area: checkShape(params.area!), on: params.on ?? ["enter"], minIntervalS };
}

export function checkZone(params: CreateZoneParams): ZoneInput {
	const on: Transition[] = params.on ?? ["enter", "exit"];
	if (on.includes("dwell") && params.dwellS === undefined) throw invalid("dwellS", "required", "A zone on dwell needs dwellS");
	if (!on.includes("dwell") && params.dwellS !== undefined) throw invalid("dwellS", "forbidden", "dwellS needs on to include dwell");
	const zone: ZoneInput = { name: params.name, points: checkPolygon(params.points, "points"), on };
	return params.dwellS === undefined ? zone : { ...zone, dwellS: params.dwellS };
}

/** Whether the alert's fence depends on the owner's favourites (recompiled when they change). */
export const usesFavorites = (alert: AlertInput): boolean =>
	alert.kind === "vendor_nearby" ? "favorites" in alert.vendor : alert.filter.favorites === true;

/** The fence of an alert; `favorites` are the owner's, when the alert is about them. */
export function compileAlert(alert: Alert, favorites: string[]): Fence {
	const base = { id: alert.id, kind: alert.kind, userId: alert.userId, minIntervalS: alert.minIntervalS ?? MIN_ALERT_INTERVAL_S };
	if (alert.kind === "vendor_nearby") {
		const { vendor, at, radius } = alert;
		const filter =
			"id" in vendor ? { vendorIds: [vendor.id] } : "category" in vendor ? { categories: [vendor.category] } : { vendorIds: favorites };
		const roaming = at === "here";
		return { ...base, shape: { type: "circle", center: roaming ? null : at, radius }, roaming, filter, on: ["enter"] };
	}
	const { categories, favorites: onlyFavorites } = alert.filter;
	const filter = { ...(categories ? { categories } : {}), ...(onlyFavorites ? { vendorIds: favorites } : {}) };
	return { ...base, shape: alert.area, roaming: false, filter, on: alert.on ?? ["enter"] };
}

export function compileZone(zone: Zone): Fence {
	return {
		id: zone.id,
		kind: "zone",
		userId: null,
		name: zone.name,
		shape: { type: "polygon", points: zone.points },
		roaming: false,
		filter: {},
		on: zone.on ?? ["enter", "exit"],
		...(zone.dwellS === undefined ? {} : { dwellS: zone.dwellS }),
		minIntervalS: MIN_ALERT_INTERVAL_S,
	};
}
