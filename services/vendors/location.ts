import type { Context } from "moleculer";
import { servicePart, type VentaService } from "../../config/settings.ts";
import { conflict, rateLimited } from "../../lib/errors.ts";
import { vendorIdParam } from "../../lib/ids.ts";
import { POSITION_INPUT_SCHEMA } from "../../lib/position.ts";
import type { CallerMeta } from "../../lib/identity.ts";
import type { DbMethods } from "../../mixins/db.mixin.ts";
import { callWithFailover } from "../../runtime/failover.ts";
import {
	GEO_WRITE_TIMEOUT_MS,
	type GetParams as GeoGetParams,
	type UpdateParams as GeoUpdateParams,
	type UpdateResult,
	VENDOR_LOCATION_SCHEMA,
	type VendorLocation,
} from "../geo/contract.ts";
import { LOCATION_ANSWER_SCHEMA, type LocationAnswer, type LocationParams, type ReportLocationParams, type Vendor } from "./contract.ts";
import { assertMayBroadcast } from "./model.ts";
import type { VendorsState } from "./records.ts";

type LocationThis = VentaService<object, DbMethods, VendorsState>;

/** The location routes of a vendor (`/api/vendors/:id/location`), kept by the geo service; mixed into vendors. */
export const locationActions = servicePart<object, DbMethods, VendorsState>({
	actions: {
		/** `GET /api/vendors/:id/location` — public: the live position while online, else just `online: false`. */
		location: {
			rest: "GET /:id/location",
			params: { $$strict: true, id: vendorIdParam },
			openapi: { responses: { 200: LOCATION_ANSWER_SCHEMA } },
			async handler(this: LocationThis, ctx: Context<LocationParams>): Promise<LocationAnswer> {
				const { id } = ctx.params;
				await this.records.live(id);
				const location = await ctx.call<VendorLocation | null, GeoGetParams>("geo.get", { vendorId: id });
				return location?.online ? location : { vendorId: id, online: false };
			},
		},

		/**
		 * `POST /api/vendors/:id/location` — the owner's low-rate alternative to the socket: the same
		 * validation, at most POSITION_MAX_HZ, streamed to watchers like a socket position.
		 */
		reportLocation: {
			rest: "POST /:id/location",
			auth: "required",
			owns: "vendor",
			params: { id: vendorIdParam, $$strict: false },
			// The position is checked by checkPosition (lib/position.ts), as on the socket.
			openapi: { responses: { 200: VENDOR_LOCATION_SCHEMA }, body: POSITION_INPUT_SCHEMA, errors: [409] },
			async handler(this: LocationThis, ctx: Context<ReportLocationParams, CallerMeta>): Promise<VendorLocation> {
				const { id, lat, lng, ts, acc, hdg, spd } = ctx.params;
				const { requireSubscription, positionMaxHz } = this.settings.config;
				assertMayBroadcast(ctx.locals.vendor as Vendor, requireSubscription);
				const now = Date.now();
				if (!this.reports.allows(id, now, 1000 / positionMaxHz)) throw rateLimited(`At most ${positionMaxHz} positions per second`);
				const update: GeoUpdateParams = { vendorId: id, lat, lng, ts, acc, hdg, spd };
				const result = await callWithFailover<UpdateResult>(ctx, "geo.update", update, GEO_WRITE_TIMEOUT_MS);
				this.reports.record(id, now);
				if (!result.applied) throw conflict("Position is older than the vendor's latest one", { reason: "stale" });
				return result.location;
			},
		},
	},
});
