import { randomBytes } from "node:crypto";
import type { Context } from "moleculer";
import { servicePart } from "../../config/settings.ts";
import { conflict, notFound } from "../../lib/errors.ts";
import { fenceIdParam } from "../../lib/ids.ts";
import { PRIVILEGED, type CallerMeta } from "../../lib/identity.ts";
import type { DbMethods, Store } from "../../mixins/db.mixin.ts";
import { DELETED_SCHEMA } from "../vendors/contract.ts";
import { checkZone, compileZone } from "./compile.ts";
import {
	MAX_ZONES,
	ZONE_LIST_SCHEMA,
	ZONE_SCHEMA,
	type CreateZoneParams,
	type Fence,
	type FencesChanged,
	type IdParams,
	type Zone,
	type ZoneList,
} from "./contract.ts";
import { createZoneParams } from "./params.ts";

/** Operators' zones (`/api/zones`, admin; the REPL's `zones` and `zone`), mixed into the alerts service. */

type ZoneDoc = Omit<Zone, "id"> & { _id: string };
type CreatedMeta = CallerMeta & { $statusCode?: number; $location?: string };

export type ZonesVars = { zoneStore: Store };
export type ZonesMethods = { zoneFences(): Promise<Fence[]> };
type ZonesThis = DbMethods & ZonesVars & { fencesChanged(ctx: Context, change: FencesChanged): Promise<void> };

const toZone = ({ _id, ...rest }: ZoneDoc): Zone => ({ id: _id, ...rest });
const newZoneId = () => `zon_${randomBytes(12).toString("base64url")}`;

export const zoneActions = servicePart<object, ZonesMethods & ZonesThis, ZonesVars>({
	actions: {
		/** `POST /api/zones` */
		createZone: {
			rest: "POST /zones",
			roles: PRIVILEGED,
			params: createZoneParams,
			openapi: { responses: { 201: ZONE_SCHEMA }, errors: [409] },
			async handler(ctx: Context<CreateZoneParams, CreatedMeta>): Promise<Zone> {
				const input = checkZone(ctx.params);
				// Count, then insert: operators creating zones at the same moment can pass the cap together.
				// Harmless: it bounds a runaway script's zones, and only privileged callers create them.
				if ((await this.zoneStore.count({})) >= MAX_ZONES) throw conflict(`At most ${MAX_ZONES} zones`, { max: MAX_ZONES }, "ZONE_LIMIT");
				const zone: Zone = { ...input, id: newZoneId(), createdAt: new Date().toISOString() };
				const { id, ...rest } = zone;
				await this.zoneStore.insert({ _id: id, ...rest });
				await this.fencesChanged(ctx, { upsert: [compileZone(zone)], remove: [] });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/zones/${id}`;
				return zone;
			},
		},

		/** `GET /api/zones` — oldest first. */
		listZones: {
			rest: "GET /zones",
			roles: PRIVILEGED,
			params: { $$strict: true },
			openapi: { responses: { 200: ZONE_LIST_SCHEMA } },
			async handler(): Promise<ZoneList> {
				const docs = await this.zoneStore.find<ZoneDoc>({ sort: ["createdAt"] });
				return { rows: docs.map(toZone), total: docs.length };
			},
		},

		/** `GET /api/zones/:id` */
		getZone: {
			rest: "GET /zones/:id",
			roles: PRIVILEGED,
			params: { $$strict: true, id: fenceIdParam },
			openapi: { responses: { 200: ZONE_SCHEMA } },
			async handler(ctx: Context<IdParams>): Promise<Zone> {
				const doc = await this.zoneStore.findById<ZoneDoc>(ctx.params.id);
				if (!doc) throw notFound("No such zone");
				return toZone(doc);
			},
		},

		/** `DELETE /api/zones/:id` */
		removeZone: {
			rest: "DELETE /zones/:id",
			roles: PRIVILEGED,
			params: { $$strict: true, id: fenceIdParam },
			openapi: { responses: { 200: DELETED_SCHEMA } },
			async handler(ctx: Context<IdParams>): Promise<{ id: string; deleted: true }> {
				if ((await this.zoneStore.removeMany({ _id: ctx.params.id })) === 0) throw notFound("No such zone");
				await this.fencesChanged(ctx, { upsert: [], remove: [ctx.params.id] });
				return { id: ctx.params.id, deleted: true };
			},
		},
	},

	methods: {
		async zoneFences(): Promise<Fence[]> {
			return (await this.zoneStore.find<ZoneDoc>({})).map(doc => compileZone(toZone(doc)));
		},
	},

	async started() {
		this.zoneStore = await this.openStore("zones", []);
	},
});
