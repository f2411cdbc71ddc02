import { randomBytes } from "node:crypto";
import type { Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { conflict, notFound } from "../../lib/errors.ts";
import type { DomainEvent } from "../../lib/events.ts";
import { fenceIdParam } from "../../lib/ids.ts";
import { PRIVILEGED, type Caller, type CallerMeta } from "../../lib/identity.ts";
import { KeyedQueue } from "../../lib/keyed-queue.ts";
import { createDbMixin, type DbMethods } from "../../mixins/db.mixin.ts";
import type { User } from "../users/contract.ts";
import { DELETED_SCHEMA } from "../vendors/contract.ts";
import { checkAlert, compileAlert, usesFavorites } from "./compile.ts";
import {
	ALERT_LIST_SCHEMA,
	ALERT_SCHEMA,
	FENCES_CHANGED_EVENT,
	MAX_ALERTS_PER_USER,
	type Alert,
	type AlertList,
	type CreateAlertParams,
	type Fence,
	type FencesChanged,
	type IdParams,
} from "./contract.ts";
import { createAlertParams } from "./params.ts";
import { zoneActions, type ZonesMethods, type ZonesVars } from "./zones.ts";

/** An alert as stored: the alert and its compiled fence. */
type AlertDoc = Omit<Alert, "id"> & { _id: string; fence: Fence };
type CreatedMeta = CallerMeta & { $statusCode?: number; $location?: string };

type AlertsMethods = {
	favoritesOf(ctx: Context, userId: string): Promise<string[]>;
	ownAlert(ctx: Context<IdParams, CallerMeta>): Promise<AlertDoc>;
	fencesChanged(ctx: Context, change: FencesChanged): Promise<void>;
	recompileFavorites(ctx: Context, userId: string, favorites: string[]): Promise<void>;
};

const toAlert = ({ _id, fence: _f, ...rest }: AlertDoc): Alert => ({ id: _id, ...rest }) as Alert;
const caller = (ctx: Context<unknown, CallerMeta>): Caller => ctx.meta.user as Caller;
const newAlertId = () => `alr_${randomBytes(12).toString("base64url")}`;
const FAVORITES_QUERY = { $or: [{ "vendor.favorites": true }, { "filter.favorites": true }] };

type UserUpdated = DomainEvent<{ id: string; changes: { favorites?: string[] } }>;
/** `creating`: each user's creates, one after another on this node (the cap's count and insert). */
type AlertsVars = ZonesVars & { creating: KeyedQueue };

/**
 * Customers' alerts (`/api/me/alerts`) and operators' zones (`/api/zones`, zones.ts): validated,
 * stored, and compiled into the fences the geo service evaluates. Every change is broadcast to
 * the geo nodes (FENCES_CHANGED_EVENT); a geo node that starts loads them all (`alerts.fences`).
 */
const AlertsService: VentaServiceSchema<{ rest: string }, AlertsMethods & ZonesMethods & DbMethods, AlertsVars> = {
	name: "alerts",
	mixins: [createDbMixin("alerts", [{ fields: { userId: 1 } }]), zoneActions],

	// The routes are under two bases (`/me/alerts`, `/zones`): each action names its whole path.
	settings: { rest: "/" },

	actions: {
		/** `POST /api/me/alerts` */
		create: {
			rest: "POST /me/alerts",
			auth: "required",
			params: createAlertParams,
			openapi: { responses: { 201: ALERT_SCHEMA }, errors: [404, 409] },
			async handler(ctx: Context<CreateAlertParams, CreatedMeta>): Promise<Alert> {
				const userId = caller(ctx).id;
				const input = checkAlert(ctx.params);
				if (input.kind === "vendor_nearby" && "id" in input.vendor) await ctx.call("vendors.get", { id: input.vendor.id });
				const alert = { ...input, id: newAlertId(), userId, createdAt: new Date().toISOString() } as Alert;
				const fence = compileAlert(alert, usesFavorites(alert) ? await this.favoritesOf(ctx, userId) : []);
				const { id, ...rest } = alert;
				// Count and insert one at a time per user on this node, so a burst cannot pass the cap
				// together. Across alerts nodes a race can still add one per other node: harmless, it
				// only bounds what one user costs geo.
				await this.creating.run(userId, async () => {
					if ((await this.adapter.count({ query: { userId } })) >= MAX_ALERTS_PER_USER)
						throw conflict(`At most ${MAX_ALERTS_PER_USER} alerts per user`, { max: MAX_ALERTS_PER_USER }, "ALERT_LIMIT");
					await this.adapter.insert({ _id: id, ...rest, fence });
				});
				await this.fencesChanged(ctx, { upsert: [fence], remove: [] });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/me/alerts/${id}`;
				return alert;
			},
		},

		/** `GET /api/me/alerts` — the caller's alerts, oldest first. */
		list: {
			rest: "GET /me/alerts",
			auth: "required",
			params: { $$strict: true },
			openapi: { responses: { 200: ALERT_LIST_SCHEMA } },
			async handler(ctx: Context<object, CallerMeta>): Promise<AlertList> {
				const docs = await this.adapter.find<AlertDoc>({ query: { userId: caller(ctx).id }, sort: ["createdAt"] });
				return { rows: docs.map(toAlert), total: docs.length };
			},
		},

		/** `GET /api/me/alerts/:id` — one of the caller's alerts (someone else's is 404, like none). */
		get: {
			rest: "GET /me/alerts/:id",
			auth: "required",
			params: { $$strict: true, id: fenceIdParam },
			openapi: { responses: { 200: ALERT_SCHEMA } },
			async handler(ctx: Context<IdParams, CallerMeta>): Promise<Alert> {
				return toAlert(await this.ownAlert(ctx));
			},
		},

		/** `DELETE /api/me/alerts/:id` */
		remove: {
			rest: "DELETE /me/alerts/:id",
			auth: "required",
			params: { $$strict: true, id: fenceIdParam },
			openapi: { responses: { 200: DELETED_SCHEMA } },
			async handler(ctx: Context<IdParams, CallerMeta>): Promise<{ id: string; deleted: true }> {
				// One conditional delete: the owner check and the delete cannot be split by another write.
				const removed = await this.adapter.removeMany({ _id: ctx.params.id, userId: caller(ctx).id });
				if (removed === 0) throw notFound("No such alert");
				await this.fencesChanged(ctx, { upsert: [], remove: [ctx.params.id] });
				return { id: ctx.params.id, deleted: true };
			},
		},

		/** Every fence, alerts' and zones': what a geo node loads when it starts. Services only (an identity), not REST. */
		fences: {
			roles: PRIVILEGED,
			params: { $$strict: true },
			async handler(): Promise<Fence[]> {
				const [alerts, zones] = await Promise.all([this.adapter.find<AlertDoc>({}), this.zoneFences()]);
				return [...alerts.map(doc => doc.fence), ...zones];
			},
		},
	},

	events: {
		/** Favourites changed: the fences of that user's favourites alerts get the new list. */
		async "marketplace.user_updated"(ctx: Context<UserUpdated>) {
			const { id, changes } = ctx.params.data;
			if (changes?.favorites) await this.recompileFavorites(ctx, id, changes.favorites);
		},

		/** A deleted user's alerts go with them. */
		async "marketplace.user_deleted"(ctx: Context<DomainEvent<{ id: string }>>) {
			const userId = ctx.params.data.id;
			const docs = await this.adapter.find<AlertDoc>({ query: { userId } });
			if (docs.length === 0) return;
			await this.adapter.removeMany({ userId });
			await this.fencesChanged(ctx, { upsert: [], remove: docs.map(doc => doc._id) });
		},
	},

	methods: {
		async favoritesOf(ctx: Context, userId: string): Promise<string[]> {
			return (await ctx.call<User, { id: string }>("users.get", { id: userId }, { meta: { $cache: false } })).favorites;
		},

		async ownAlert(ctx: Context<IdParams, CallerMeta>): Promise<AlertDoc> {
			const doc = await this.adapter.findById<AlertDoc>(ctx.params.id);
			if (!doc || doc.userId !== caller(ctx).id) throw notFound("No such alert");
			return doc;
		},

		async recompileFavorites(ctx: Context, userId: string, favorites: string[]) {
			const docs = await this.adapter.find<AlertDoc>({ query: { userId, ...FAVORITES_QUERY } });
			const upsert: Fence[] = [];
			for (const doc of docs) {
				const fence = compileAlert(toAlert(doc), favorites);
				// Deleted meanwhile: nothing to recompile.
				if (await this.adapter.updateById(doc._id, { $set: { fence } })) upsert.push(fence);
			}
			if (upsert.length > 0) await this.fencesChanged(ctx, { upsert, remove: [] });
		},

		/** Tells every geo node (every node: a broadcast) what changed. */
		async fencesChanged(ctx: Context, change: FencesChanged) {
			await ctx.broadcast(FENCES_CHANGED_EVENT, change);
		},
	},

	created() {
		this.creating = new KeyedQueue();
	},
};

export default AlertsService;
