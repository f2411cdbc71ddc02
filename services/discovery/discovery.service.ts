import type { Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { orWhenAbsent } from "../../lib/errors.ts";
import { circleBounds, distanceM, MAX_RADIUS_M, type LatLng } from "../../lib/geo.ts";
import {
	HEATMAP_RESULT_SCHEMA,
	MAX_NEARBY_LIMIT,
	type HeatmapParams,
	type HeatmapResult,
	type NearbyHit,
	type NearbyParams as GeoNearbyParams,
} from "../geo/contract.ts";
import type { DiscoverableParams, FixedLocation, FixedLocationsParams, Vendor } from "../vendors/contract.ts";
import { VendorCards } from "./cards.ts";
import { demandActions } from "./demand.ts";
import {
	DEFAULT_NEARBY_LIMIT,
	DEFAULT_RADIUS_M,
	MAX_NEARBY_ROWS,
	NEARBY_ANSWER_SCHEMA,
	type HeatmapQuery,
	type NearbyAnswer,
	type NearbyParams,
	type NearbyVendor,
	type VendorPosition,
} from "./contract.ts";

type DiscoveryMethods = {
	fetchPositions(ctx: Context, center: LatLng, radius: number): Promise<VendorPosition[]>;
	findVendors(ctx: Context, ids: string[], q: string | undefined, category: string | undefined): Promise<Vendor[]>;
};
type DiscoveryVars = { cards: VendorCards };

/** One answer row: the vendor's card, its distance (whole metres), whether it is online, and where it is. */
function nearbyRow(vendor: Vendor, { lat, lng, ts, cell, hdg, spd, online, distance }: VendorPosition): NearbyVendor {
	return { ...vendor, distance: Math.round(distance), online, position: { lat, lng, ts, cell, hdg, spd } };
}

/** Search over vendors and their positions: text, category, online, distance; live counts per cell; watchers per cell (demand.ts, mixed in). */
const DiscoveryService: VentaServiceSchema<{ rest: string }, DiscoveryMethods, DiscoveryVars> = {
	name: "discovery",
	mixins: [demandActions],

	settings: {
		rest: "/discovery",
	},

	actions: {
		/** `GET /api/discovery/nearby?lat=&lng=&radius=&q=&category=&online=&limit=` — live vendors sorted by distance. */
		nearby: {
			rest: "GET /nearby",
			params: {
				$$strict: true,
				lat: { type: "number", min: -90, max: 90, convert: true },
				lng: { type: "number", min: -180, max: 180, convert: true },
				radius: { type: "number", min: 1, max: MAX_RADIUS_M, convert: true, optional: true },
				q: { type: "string", trim: true, min: 1, max: 100, optional: true },
				category: { type: "string", trim: true, lowercase: true, min: 1, max: 40, optional: true },
				online: { type: "boolean", convert: true, optional: true },
				limit: { type: "number", integer: true, min: 1, max: MAX_NEARBY_ROWS, convert: true, optional: true },
			},
			openapi: { responses: { 200: NEARBY_ANSWER_SCHEMA } },
			async handler(ctx: Context<NearbyParams>): Promise<NearbyAnswer> {
				const { lat, lng, radius = DEFAULT_RADIUS_M, q, category, online, limit = DEFAULT_NEARBY_LIMIT } = ctx.params;
				const positions = new Map<string, VendorPosition>();
				for (const p of await this.fetchPositions(ctx, { lat, lng }, radius)) {
					if (p.distance > radius || (online !== undefined && p.online !== online)) continue;
					const known = positions.get(p.vendorId);
					// A live position beats the stall's fixed one.
					if (!known || (p.online && !known.online)) positions.set(p.vendorId, p);
				}
				const found = (await this.findVendors(ctx, [...positions.keys()], q, category))
					.map(vendor => ({ vendor, at: positions.get(vendor.id)! }))
					.sort((a, b) => a.at.distance - b.at.distance || a.vendor.id.localeCompare(b.vendor.id));
				// Rows are built for the page only; `total` counts every match.
				return { rows: found.slice(0, limit).map(({ vendor, at }) => nearbyRow(vendor, at)), total: found.length };
			},
		},

		/** `GET /api/discovery/heatmap?bbox=w,s,e,n&res=` — live vendor counts per H3 cell. */
		heatmap: {
			rest: "GET /heatmap",
			params: {
				$$strict: true,
				bbox: { type: "string", max: 200 },
				res: { type: "number", integer: true, min: 0, max: 15, optional: true, convert: true },
			},
			openapi: { responses: { 200: HEATMAP_RESULT_SCHEMA } },
			handler(ctx: Context<HeatmapQuery>): Promise<HeatmapResult> {
				const { bbox, res } = ctx.params;
				return ctx.call<HeatmapResult, HeatmapParams>("geo.heatmap", { bbox, ...(res === undefined ? {} : { res }) });
			},
		},
	},

	events: {
		/** Every vendor write broadcasts this (moleculer-db's cache clean): the cached cards may be stale. */
		"cache.clean.vendors"() {
			this.cards.clear();
		},
	},

	methods: {
		/**
		 * The one place positions come from: live positions of online vendors (geo) and the
		 * fixed locations of stalls. A cluster without geo still answers with the stalls.
		 */
		async fetchPositions(ctx: Context, center: LatLng, radius: number): Promise<VendorPosition[]> {
			const [live, stalls] = await Promise.all([
				orWhenAbsent(ctx.call<NearbyHit[], GeoNearbyParams>("geo.nearby", { ...center, radius, limit: MAX_NEARBY_LIMIT }), []),
				this.cards.stallsIn(ctx, circleBounds(center, radius)),
			]);
			// geo already measured the live hits; only the stalls need a distance.
			const positions: VendorPosition[] = live.map(({ vendorId, lat, lng, distance, ts, cell, hdg, spd }) => ({
				vendorId,
				lat,
				lng,
				distance,
				online: true,
				ts,
				cell,
				hdg,
				spd,
			}));
			for (const s of stalls) positions.push({ ...s, distance: distanceM(center.lat, center.lng, s.lat, s.lng), online: false });
			return positions;
		},

		/**
		 * The public cards of `ids`: from this node's cache, or — with a text or category filter,
		 * which the vendors' store evaluates (NeDB regexes or MongoDB's text index) — from vendors.
		 */
		findVendors(ctx: Context, ids: string[], q: string | undefined, category: string | undefined): Promise<Vendor[]> {
			if (ids.length === 0) return Promise.resolve([]);
			if (q === undefined && category === undefined) return this.cards.publicCards(ctx, ids);
			return ctx.call<Vendor[], DiscoverableParams>("vendors.discoverable", { ids, q, category });
		},
	},

	created() {
		this.cards = new VendorCards(
			{
				cards: (ctx, ids) => ctx.call<Vendor[], DiscoverableParams>("vendors.discoverable", { ids }),
				stalls: (ctx, box) => ctx.call<FixedLocation[], FixedLocationsParams>("vendors.fixedLocations", box),
			},
			this.settings.config.requireSubscription
		);
	},
};

export default DiscoveryService;
