import { Errors, type Context, type Service, type ServiceSchema } from "moleculer";
import type { VentaSettings } from "../../runtime/engine.ts";
import { boundingBox } from "../../lib/geo.ts";
import { distanceM } from "../../lib/position.ts";
import type { LatLng, Vendor } from "../vendors/model.ts";
import type { NearbyHit } from "../geo/store.ts";

export type NearbyParams = { lat: number; lng: number; radius?: number; q?: string; category?: string; online?: boolean; limit?: number };

/** Where a vendor is: a live position (online) or the fixed location of a stall. */
export type VendorPosition = LatLng & { vendorId: string; online: boolean; distance: number; ts?: number; cell?: string; acc?: number; hdg?: number; spd?: number };

export type NearbyVendor = Vendor & { distance: number; online: boolean; position: Omit<VendorPosition, "vendorId" | "online" | "distance"> };

type DiscoveryThis = Service<VentaSettings> & {
	fetchPositions(ctx: Context, center: LatLng, radius: number): Promise<VendorPosition[]>;
};

const DEFAULT_RADIUS_M = 5_000;
const MAX_RADIUS_M = 50_000;
/** Live positions read per query (geo.nearby caps at 500). */
const MAX_LIVE_POSITIONS = 500;

const DiscoveryService: ServiceSchema<VentaSettings, any, any, DiscoveryThis> = {
	name: "discovery",

	settings: {
		config: undefined as never,
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
				limit: { type: "number", integer: true, min: 1, max: 200, convert: true, optional: true },
			},
			async handler(this: DiscoveryThis, ctx: Context<NearbyParams>): Promise<{ rows: NearbyVendor[]; total: number }> {
				const { lat, lng, radius = DEFAULT_RADIUS_M, q, category, online, limit = 50 } = ctx.params;
				const center = { lat, lng };
				const positions = new Map<string, VendorPosition>();
				for (const p of await this.fetchPositions(ctx, center, radius)) {
					if (online !== undefined && p.online !== online) continue;
					const known = positions.get(p.vendorId);
					// A live position beats the stall's fixed one.
					if (p.distance <= radius && (!known || (p.online && !known.online))) positions.set(p.vendorId, { ...p, distance: Math.round(p.distance) });
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
	},

	methods: {
		/**
		 * The one place positions come from: live positions of online vendors (geo) and the
		 * fixed locations of stalls. A cluster without geo still answers with the stalls.
		 */
		async fetchPositions(ctx: Context, center: LatLng, radius: number): Promise<VendorPosition[]> {
			const [live, stalls] = await Promise.all([
				ctx
					.call<NearbyHit[], object>("geo.nearby", { ...center, radius, limit: MAX_LIVE_POSITIONS })
					.catch((err: Error) => {
						if (err instanceof Errors.ServiceNotFoundError) return [];
						throw err;
					}),
				ctx.call<{ vendorId: string; lat: number; lng: number }[], object>("vendors.fixedLocations", boundingBox(center, radius)),
			]);
			// geo already measured the live hits; only the stalls need a distance.
			const positions: VendorPosition[] = live.map(({ vendorId, lat, lng, distance, ts, cell, hdg, spd }) => ({ vendorId, lat, lng, distance, online: true, ts, cell, hdg, spd }));
			for (const s of stalls) positions.push({ ...s, distance: distanceM(center.lat, center.lng, s.lat, s.lng), online: false });
			return positions;
		},
	},
};

export default DiscoveryService;
