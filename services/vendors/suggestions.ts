import { cellToLatLng } from "h3-js";
import type { Context } from "moleculer";
import { servicePart, type VentaService } from "../../config/settings.ts";
import { demandLevels, demandScore } from "../../lib/demand.ts";
import { conflict, orWhenAbsent } from "../../lib/errors.ts";
import { circleBounds, distanceM, type BBox, type LatLng } from "../../lib/geo.ts";
import { vendorIdParam } from "../../lib/ids.ts";
import { serviceCaller } from "../../lib/identity.ts";
import {
	DEFAULT_SUGGESTION_RADIUS_M,
	DEFAULT_SUGGESTIONS,
	MAX_SUGGESTION_RADIUS_M,
	MAX_SUGGESTIONS,
	SUGGESTIONS_ANSWER_SCHEMA,
	type DemandCounts,
	type DemandCountsParams,
	type Suggestion,
	type SuggestionsAnswer,
	type SuggestionsParams,
} from "../discovery/contract.ts";
import type { GetParams as GeoGetParams, InCellsParams, StoredPosition, VendorLocation } from "../geo/contract.ts";
import type { DbMethods } from "../../mixins/db.mixin.ts";
import type { Vendor } from "./contract.ts";
import type { VendorRecords, VendorsState } from "./records.ts";

type SuggestionsThis = VentaService<object, DbMethods, VendorsState>;

/** circleBounds as a BBox: longitudes past ±180 wrap (west > east then crosses the antimeridian). */
function circleBox(center: LatLng, radius: number): BBox {
	const { south, north, west, east } = circleBounds(center, radius);
	if (east - west >= 360) return [-180, south, 180, north];
	const wrap = (lng: number) => (lng < -180 ? lng + 360 : lng > 180 ? lng - 360 : lng);
	return [wrap(west), south, wrap(east), north];
}

/** Watched cells (fine level) whose centre is within `radius` of `from`, with at least `minCount` watchers. */
async function watchedAround(ctx: Context, from: LatLng, radius: number, res: number, minCount: number) {
	const counts = await orWhenAbsent(
		ctx.broker.call<DemandCounts, DemandCountsParams>(
			"live.demand",
			{ bbox: circleBox(from, radius), res },
			{ parentCtx: ctx, meta: { user: serviceCaller("vendors") } }
		),
		{ cells: [] } as Pick<DemandCounts, "cells">
	);
	return counts.cells.flatMap(({ cell, watchers }) => {
		const [lat, lng] = cellToLatLng(cell);
		const distance = distanceM(from.lat, from.lng, lat, lng);
		return watchers >= minCount && distance <= radius ? [{ cell, lat, lng, distance, watchers }] : [];
	});
}

/** Online vendors per cell that share a category with `vendor` (itself not counted): geo's positions in the cells, then their categories. */
async function competitorsIn(ctx: Context, records: VendorRecords, cells: string[], vendor: Vendor): Promise<Map<string, number>> {
	const perCell = new Map<string, number>();
	if (cells.length === 0 || vendor.categories.length === 0) return perCell;
	const positions = await orWhenAbsent(ctx.call<StoredPosition[], InCellsParams>("geo.inCells", { cells }), []);
	const others = positions.filter(p => p.vendorId !== vendor.id);
	if (others.length === 0) return perCell;
	const kinds = new Set(vendor.categories);
	const docs = await records.findMany({ _id: { $in: [...new Set(others.map(p => p.vendorId))] }, deletedAt: null });
	const sameKind = new Set(docs.filter(d => d.categories.some(c => kinds.has(c))).map(d => d.id));
	for (const p of others) if (sameKind.has(p.vendorId)) perCell.set(p.cell, (perCell.get(p.cell) ?? 0) + 1);
	return perCell;
}

/** Where to go next (`/api/vendors/:id/suggestions`): nearby cells ranked by watchers per vendor of the same kind; mixed into vendors. */
export const suggestionActions = servicePart<object, DbMethods, VendorsState>({
	actions: {
		/** `GET /api/vendors/:id/suggestions?radius=&limit=` — the owner or an admin; a simple ranking, not a promise. */
		suggestions: {
			rest: "GET /:id/suggestions",
			owns: "vendor",
			params: {
				$$strict: true,
				id: vendorIdParam,
				radius: { type: "number", integer: true, min: 1, max: MAX_SUGGESTION_RADIUS_M, convert: true, optional: true },
				limit: { type: "number", integer: true, min: 1, max: MAX_SUGGESTIONS, convert: true, optional: true },
			},
			openapi: { responses: { 200: SUGGESTIONS_ANSWER_SCHEMA }, errors: [409] },
			async handler(this: SuggestionsThis, ctx: Context<SuggestionsParams>): Promise<SuggestionsAnswer> {
				const { id, radius = DEFAULT_SUGGESTION_RADIUS_M, limit = DEFAULT_SUGGESTIONS } = ctx.params;
				const { h3Res, demand } = this.settings.config;
				const vendor = ctx.locals.vendor as Vendor;
				const live = await orWhenAbsent(ctx.call<VendorLocation | null, GeoGetParams>("geo.get", { vendorId: id }), null);
				const at = live?.online ? live : vendor.location;
				if (!at) throw conflict("The vendor has no position: it is offline and has no fixed location", undefined, "NO_POSITION");
				const from = { lat: at.lat, lng: at.lng };
				const res = demandLevels(h3Res).fine;
				const watched = await watchedAround(ctx, from, radius, res, demand.minCount);
				const competitors = await competitorsIn(
					ctx,
					this.records,
					watched.map(w => w.cell),
					vendor
				);
				const ranked = watched
					.map(w => ({ ...w, vendors: competitors.get(w.cell) ?? 0 }))
					.map(w => ({ ...w, score: demandScore(w.watchers, w.vendors) }))
					.sort((a, b) => b.score - a.score || a.distance - b.distance || a.cell.localeCompare(b.cell));
				const suggestions: Suggestion[] = ranked
					.slice(0, limit)
					.map(s => ({ ...s, distance: Math.round(s.distance), score: Math.round(s.score * 100) / 100 }));
				return { vendorId: id, from, radius, res, minCount: demand.minCount, suggestions };
			},
		},
	},
});
