import { Errors, type Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { circleBounds, distanceM, MAX_RADIUS_M, type LatLng } from "../../lib/geo.ts";
import {
	MAX_NEARBY_LIMIT,
	type HeatmapParams,
	type HeatmapResult,
	type NearbyHit,
	type NearbyParams as GeoNearbyParams,
} from "../geo/contract.ts";
import type { FixedLocation, FixedLocationsParams, Vendor } from "../vendors/contract.ts";
import {
	DEFAULT_NEARBY_LIMIT,
	DEFAULT_RADIUS_M,
	MAX_NEARBY_ROWS,
	type HeatmapQuery,
	type NearbyAnswer,
	type NearbyParams,
	type VendorPosition,
} from "./contract.ts";

type DiscoveryMethods = {
	fetchPositions(ctx: Context, center: LatLng, radius: number): Promise<VendorPosition[]>;
};

/** Search over vendors and their positions: text, category, online, distance; live counts per cell. */
const DiscoveryService: VentaServiceSchema<{ rest: string }, DiscoveryMethods> = {
	name: "discovery",

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
			async handler(ctx: Context<NearbyParams>): Promise<NearbyAnswer> {
				const { lat, lng, radius = DEFAULT_RADIUS_M, q, category, online, limit = DEFAULT_NEARBY_LIMIT } = ctx.params;
				const positions = new Map<string, VendorPosition>();
				for (const p of await this.fetchPositions(ctx, { lat, lng }, radius)) {
					if (online !== undefined && p.online !== online) continue;
					const known = positions.get(p.vendorId);
					// A live position beats the stall's fixed one.
					if (p.distance <= radius && (!known || (p.online && !known.online)))
						positions.set(p.vendorId, { ...p, distance: Math.round(p.distance) });
				}
				const vendors = await ctx.call<Vendor[], object>("vendors.discoverable", { ids: [...positions.keys()], q, category });
				const rows = vendors
					.map(vendor => {
						const { vendorId: _id, online: isOnline, distance, ...position } = positions.get(vendor.id)!;
						return { ...vendor, distance, online: isOnline, position };
					})
					.sort((a, b) => a.distance - b.distance || a.id.localeCompare(b.id));
				return { rows: rows.slice(0, limit), total: rows.length };
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
			handler(ctx: Context<HeatmapQuery>): Promise<HeatmapResult> {
				const { bbox, res } = ctx.params;
				return ctx.call<HeatmapResult, HeatmapParams>("geo.heatmap", { bbox, ...(res === undefined ? {} : { res }) });
			},
		},
	},

	methods: {
		/**
		 * The one place positions come from: live positions of online vendors (geo) and the
		 * fixed locations of stalls. A cluster without geo still answers with the stalls.
		 */
		async fetchPositions(ctx: Context, center: LatLng, radius: number): Promise<VendorPosition[]> {
			const [live, stalls] = await Promise.all([
				ctx.call<NearbyHit[], GeoNearbyParams>("geo.nearby", { ...center, radius, limit: MAX_NEARBY_LIMIT }).catch((err: Error) => {
					if (err instanceof Errors.ServiceNotFoundError) return [];
					throw err;
				}),
				ctx.call<FixedLocation[], FixedLocationsParams>("vendors.fixedLocations", circleBounds(center, radius)),
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
	},
};

export default DiscoveryService;
