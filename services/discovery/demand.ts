import type { Context } from "moleculer";
import { servicePart, type VentaService } from "../../config/settings.ts";
import { demandLevels, visibleCount } from "../../lib/demand.ts";
import { forbidden, invalidBBox, orWhenAbsent, validationError } from "../../lib/errors.ts";
import { distanceM, parseBBox, type BBox, type LatLng } from "../../lib/geo.ts";
import { serviceCaller, type CallerMeta } from "../../lib/identity.ts";
import type { GetParams as GeoGetParams, VendorLocation } from "../geo/contract.ts";
import { MAX_PAGE_SIZE, type ListParams, type Page, type Vendor } from "../vendors/contract.ts";
import {
	DEMAND_ANSWER_SCHEMA,
	DEMAND_VENDOR_AREA_M,
	type DemandAnswer,
	type DemandCounts,
	type DemandCountsParams,
	type DemandQuery,
} from "./contract.ts";

type DemandThis = VentaService;

/** Does the whole box lie within `radius` of `at`? On a sphere the farthest point of a lat/lng box from a point is one of its corners. */
function boxWithin([w, s, e, n]: BBox, at: LatLng, radius: number): boolean {
	return [
		[s, w],
		[s, e],
		[n, w],
		[n, e],
	].every(([lat, lng]) => distanceM(at.lat, at.lng, lat!, lng!) <= radius);
}

/** Where one of the caller's vendors is: its live position while online (geo), else its stall's fixed location. */
async function positionOf(ctx: Context, vendor: Vendor): Promise<LatLng | undefined> {
	const live = await orWhenAbsent(ctx.call<VendorLocation | null, GeoGetParams>("geo.get", { vendorId: vendor.id }), null);
	return live?.online ? live : vendor.location;
}

/**
 * A vendor account reads the demand of a box only within DEMAND_VENDOR_AREA_M of one of its
 * vendors (its own area, not a competitor's); admins read anywhere.
 */
async function assertOwnArea(ctx: Context<unknown, CallerMeta>, bbox: BBox): Promise<void> {
	if (ctx.meta.user?.role === "admin") return;
	let positioned = false;
	for (let page = 1, pages = 1; page <= pages; page++) {
		const owned = await ctx.call<Page<Vendor>, ListParams>("vendors.list", { owner: "me", page, pageSize: MAX_PAGE_SIZE });
		pages = owned.totalPages;
		const positions = (await Promise.all(owned.rows.map(v => positionOf(ctx, v)))).filter(p => p !== undefined);
		if (positions.some(p => boxWithin(bbox, p, DEMAND_VENDOR_AREA_M))) return;
		positioned ||= positions.length > 0;
	}
	if (!positioned)
		throw forbidden("None of your vendors has a position (live, or a stall's fixed location) to read the demand around", "NO_POSITION");
	throw forbidden(`A vendor account reads the demand within ${DEMAND_VENDOR_AREA_M} m of one of its vendors`, "OUTSIDE_OWN_AREA");
}

/** The demand heatmap (`GET /api/discovery/demand`): watchers per cell from the live gateways, small counts hidden; mixed into discovery. */
export const demandActions = servicePart({
	actions: {
		/** `GET /api/discovery/demand?bbox=w,s,e,n&res=` — vendors (near one of their vendors) and admins. */
		demand: {
			rest: "GET /demand",
			roles: ["vendor", "admin"],
			params: {
				$$strict: true,
				bbox: { type: "string", max: 200 },
				res: { type: "number", integer: true, min: 0, max: 15, optional: true, convert: true },
			},
			// 400 AREA_TOO_LARGE: a box over more routing cells than live.demand takes.
			openapi: { responses: { 200: DEMAND_ANSWER_SCHEMA }, errors: [400] },
			async handler(this: DemandThis, ctx: Context<DemandQuery, CallerMeta>): Promise<DemandAnswer> {
				const { h3Res, demand } = this.settings.config;
				const { fine, coarse } = demandLevels(h3Res);
				const res = ctx.params.res ?? fine;
				if (res !== fine && res !== coarse) {
					const message = `res must be ${fine} (fine) or ${coarse} (coarse)`;
					throw validationError(message, [{ type: "demandLevel", field: "res", message }]);
				}
				const bbox = parseBBox(ctx.params.bbox);
				if (!bbox) throw invalidBBox();
				await assertOwnArea(ctx, bbox);
				const counts = await orWhenAbsent<Pick<DemandCounts, "cells">>(
					this.broker.call<DemandCounts, DemandCountsParams>(
						"live.demand",
						{ bbox, res },
						{ parentCtx: ctx, meta: { user: serviceCaller("discovery") } }
					),
					{ cells: [] }
				);
				const cells = counts.cells
					.filter(c => visibleCount(c.watchers, demand.minCount) > 0)
					.sort((a, b) => b.watchers - a.watchers || a.cell.localeCompare(b.cell));
				return { bbox, res, minCount: demand.minCount, total: cells.reduce((sum, c) => sum + c.watchers, 0), cells };
			},
		},
	},
});
