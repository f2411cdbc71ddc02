import type { Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { conflict, forbidden, noToken, nothingToChange, validationError } from "../../lib/errors.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { userIdParam, vendorIdParam } from "../../lib/ids.ts";
import { PRIVILEGED, type Caller, type CallerMeta } from "../../lib/identity.ts";
import { KeyedQueue } from "../../lib/keyed-queue.ts";
import { createDbMixin, type DbMethods } from "../../mixins/db.mixin.ts";
import {
	DEFAULT_PAGE_SIZE,
	DELETED_SCHEMA,
	GET_MANY_MAX,
	pageSchema,
	VENDOR_SCHEMA,
	VENDOR_STATUSES,
	type AuthorizeBroadcastParams,
	type CreateParams,
	type DetachOwnerParams,
	type DiscoverableParams,
	type FixedLocation,
	type FixedLocationsParams,
	type GetManyParams,
	type GetParams,
	type ListParams,
	type Page,
	type SetStatusParams,
	type UpdateParams,
	type Vendor,
	subscriptionActive,
} from "./contract.ts";
import { locationActions } from "./location.ts";
import {
	assertMayBroadcast,
	fromDoc,
	NO_SUBSCRIPTION,
	newVendorId,
	pageParams,
	profileParams,
	profileWrite,
	withoutNulls,
	TEXT_FIELDS,
	toVendor,
} from "./model.ts";
import { findPage, ReportClock, statusChanged, VendorRecords, type VendorsState } from "./records.ts";
import { reviewActions } from "./reviews.ts";
import { subscriptionActions } from "./subscription.ts";
import { suggestionActions } from "./suggestions.ts";

type CreatedMeta = CallerMeta & { $statusCode?: number; $location?: string };

const textParam = { type: "string", trim: true, min: 1, max: 100, optional: true } as const;
const categoryParam = { type: "string", trim: true, lowercase: true, min: 1, max: 40, optional: true } as const;

const caller = (ctx: Context<unknown, CallerMeta>): Caller => ctx.meta.user as Caller;

/**
 * Vendors: onboarding, profile, lifecycle (draft → active ⇄ paused, admin-only suspended) and who
 * may broadcast. Reviews, subscription state, the location routes and the suggestions are in
 * their own files of this folder, mixed in.
 */
const VendorsService: VentaServiceSchema<{ rest: string }, DbMethods, VendorsState> = {
	name: "vendors",
	mixins: [
		createDbMixin("vendors", [
			{ fields: { ownerId: 1 } },
			{ fields: { status: 1 } },
			{ fields: { categories: 1 } },
			{ fields: { name: "text", description: "text", categories: "text" } },
		]),
		reviewActions,
		subscriptionActions,
		locationActions,
		suggestionActions,
	],

	settings: {
		rest: "/vendors",
	},

	actions: {
		/** `POST /api/vendors` — onboarding: the caller becomes the owner of a new draft vendor. */
		create: {
			rest: "POST /",
			auth: "required",
			params: { $$strict: true, ...profileParams },
			openapi: { responses: { 201: VENDOR_SCHEMA } },
			async handler(ctx: Context<CreateParams, CreatedMeta>): Promise<Vendor> {
				const user = caller(ctx);
				// Role first: if that fails nothing is created, and the client's retry makes no duplicate.
				if (user.role === "customer") await ctx.call("users.becomeVendor", {});
				const now = new Date().toISOString();
				const held = await this.subscriptionStore.findById(user.id);
				const { _id: _owner, ...heldSubscription } = held ?? {};
				// Onboarding starts from nothing: a `null` field is just not given.
				const { name, location, ...profile } = withoutNulls(ctx.params);
				const doc = await this.records.insert({
					_id: newVendorId(),
					ownerId: user.id,
					name,
					description: "",
					categories: [],
					...profile,
					...(location ? { location } : {}),
					status: "draft",
					subscription: held ? { ...NO_SUBSCRIPTION, ...heldSubscription } : NO_SUBSCRIPTION,
					ratingSum: 0,
					ratingCount: 0,
					ratingVersion: 0,
					createdAt: now,
					updatedAt: now,
					deletedAt: null,
				});
				const vendor = toVendor(doc);
				await emitDomainEvent(this, ctx, "marketplace.vendor_onboarded", vendor, { vendorId: vendor.id, userId: user.id });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/vendors/${vendor.id}`;
				return vendor;
			},
		},

		/** `GET /api/vendors/:id` — public. */
		get: {
			rest: "GET /:id",
			params: { $$strict: true, id: vendorIdParam },
			openapi: { responses: { 200: VENDOR_SCHEMA } },
			cache: { keys: ["id"], ttl: 30 },
			async handler(ctx: Context<GetParams>): Promise<Vendor> {
				return toVendor(await this.records.live(ctx.params.id));
			},
		},

		/** The existing vendors among `ids`, in that order. */
		getMany: {
			params: { $$strict: true, ids: { type: "array", items: vendorIdParam, max: GET_MANY_MAX } },
			async handler(ctx: Context<GetManyParams>): Promise<Vendor[]> {
				if (ctx.params.ids.length === 0) return [];
				const docs = (await this.adapter.findByIds(ctx.params.ids)).map(fromDoc);
				const byId = new Map(docs.filter(d => !d.deletedAt).map(d => [d.id, d]));
				return ctx.params.ids.flatMap(id => (byId.has(id) ? [toVendor(byId.get(id)!)] : []));
			},
		},

		/** `GET /api/vendors?owner=me|q=|category=|status=|page=|pageSize=` — public listing shows vendors that are live. */
		list: {
			rest: "GET /",
			params: {
				$$strict: true,
				owner: { type: "enum", values: ["me"], optional: true },
				q: textParam,
				category: categoryParam,
				status: { type: "enum", values: [...VENDOR_STATUSES], optional: true },
				...pageParams,
			},
			openapi: { responses: { 200: pageSchema("VendorPage", VENDOR_SCHEMA) } },
			async handler(ctx: Context<ListParams, CallerMeta>): Promise<Page<Vendor>> {
				const { owner, q, category, status, page = 1, pageSize = DEFAULT_PAGE_SIZE } = ctx.params;
				const user = ctx.meta.user;
				if (owner === "me" && !user) throw noToken("owner=me needs a bearer token");
				if (status && owner !== "me" && user?.role !== "admin") {
					throw validationError("status filters only your own vendors (owner=me)", [
						{ type: "forbidden", field: "status", message: "The 'status' filter needs owner=me." },
					]);
				}
				const query: Record<string, unknown> = {
					...(owner === "me" ? { deletedAt: null, ownerId: user!.id } : status ? { deletedAt: null } : this.records.publicQuery()),
					...(status ? { status } : {}),
					...(category ? { categories: category } : {}),
					...(q ? this.textQuery(q, TEXT_FIELDS) : {}),
				};
				return findPage(this.adapter, query, ["-createdAt", "-_id"], page, pageSize, doc => toVendor(fromDoc(doc)));
			},
		},

		/** `PATCH /api/vendors/:id` — owner or admin; `location: null` removes a fixed stall location. */
		update: {
			rest: "PATCH /:id",
			owns: "vendor",
			params: { $$strict: true, id: vendorIdParam, ...profileParams, name: { ...profileParams.name, optional: true } },
			openapi: { responses: { 200: VENDOR_SCHEMA } },
			async handler(ctx: Context<UpdateParams, CallerMeta>): Promise<Vendor> {
				const { id, ...changes } = ctx.params;
				if (Object.keys(changes).length === 0) throw nothingToChange();
				const before = ctx.locals.vendor as Vendor;
				const { set, unset } = profileWrite(changes);
				const vendor = toVendor(await this.records.write(id, set, unset));
				await emitDomainEvent(this, ctx, "marketplace.vendor_updated", { id, changes, vendor }, { vendorId: id, userId: before.ownerId });
				return vendor;
			},
		},

		/** `DELETE /api/vendors/:id` — soft delete; the vendor stops broadcasting. */
		remove: {
			rest: "DELETE /:id",
			owns: "vendor",
			params: { $$strict: true, id: vendorIdParam },
			openapi: { responses: { 200: DELETED_SCHEMA } },
			async handler(ctx: Context<GetParams, CallerMeta>): Promise<{ id: string; deleted: true }> {
				const before = await this.records.live(ctx.params.id);
				const status = before.status === "active" ? "paused" : before.status;
				const after = await this.records.write(before.id, { status, deletedAt: new Date().toISOString() });
				await statusChanged(this, ctx, before, after, { deleted: true });
				return { id: before.id, deleted: true };
			},
		},

		/** `POST /api/vendors/:id/status` — owner: active ⇄ paused; admin also suspends and lifts suspension. */
		setStatus: {
			rest: "POST /:id/status",
			owns: "vendor",
			params: { $$strict: true, id: vendorIdParam, status: { type: "enum", values: ["active", "paused", "suspended"] } },
			openapi: { responses: { 200: VENDOR_SCHEMA }, errors: [409] },
			async handler(ctx: Context<SetStatusParams, CallerMeta>): Promise<Vendor> {
				const { id, status } = ctx.params;
				const admin = caller(ctx).role === "admin";
				const before = await this.records.live(id);
				if (before.status === status) return toVendor(before);
				if (status === "suspended" && !admin) throw forbidden("Only an admin can suspend a vendor");
				if (before.status === "suspended" && !admin) throw forbidden("This vendor is suspended; only an admin can lift that");
				if (before.status === "draft" && status === "paused" && !admin)
					throw conflict("A draft vendor goes active first", { status: before.status });
				if (status === "active" && this.settings.config.requireSubscription && !subscriptionActive(before.subscription)) {
					throw forbidden("An active subscription is required to go live", "SUBSCRIPTION_REQUIRED");
				}
				const after = await this.records.write(id, { status });
				await statusChanged(this, ctx, before, after);
				return toVendor(after);
			},
		},

		/** For the live gateway: the vendor, if the caller owns it (or is admin) and it may broadcast now. */
		authorizeBroadcast: {
			owns: "vendor",
			params: { $$strict: true, id: vendorIdParam },
			async handler(ctx: Context<AuthorizeBroadcastParams, CallerMeta>): Promise<Vendor> {
				const vendor = ctx.locals.vendor as Vendor;
				assertMayBroadcast(vendor, this.settings.config.requireSubscription);
				return vendor;
			},
		},

		/** The owner was deleted: pause their vendors and detach them. Returns the affected ids. */
		detachOwner: {
			roles: PRIVILEGED,
			params: { $$strict: true, ownerId: userIdParam },
			async handler(ctx: Context<DetachOwnerParams>): Promise<string[]> {
				const docs = await this.records.findMany({ ownerId: ctx.params.ownerId, deletedAt: null });
				for (const before of docs) {
					const after = await this.records.write(before.id, {
						ownerId: null,
						status: before.status === "active" ? "paused" : before.status,
					});
					await statusChanged(this, ctx, before, after, { previousOwnerId: before.ownerId });
				}
				return docs.map(d => d.id);
			},
		},

		/** For discovery: the live vendors among `ids` that match the text and category filters. */
		discoverable: {
			params: { $$strict: true, ids: { type: "array", items: vendorIdParam, max: 5000 }, q: textParam, category: categoryParam },
			async handler(ctx: Context<DiscoverableParams>): Promise<Vendor[]> {
				if (ctx.params.ids.length === 0) return [];
				const { q, category } = ctx.params;
				// Only the ids at the top level: the embedded store then narrows its candidates through
				// the _id index instead of scanning every active vendor.
				const docs = await this.records.findMany({
					_id: { $in: ctx.params.ids },
					$and: [
						{ ...this.records.publicQuery(), ...(category ? { categories: category } : {}), ...(q ? this.textQuery(q, TEXT_FIELDS) : {}) },
					],
				});
				return docs.map(toVendor);
			},
		},

		/** Fixed positions of live stalls inside a box (west/east may pass ±180 near the antimeridian). */
		fixedLocations: {
			params: {
				$$strict: true,
				south: { type: "number", min: -90, max: 90 },
				north: { type: "number", min: -90, max: 90 },
				west: { type: "number", min: -540, max: 540 },
				east: { type: "number", min: -540, max: 540 },
			},
			async handler(ctx: Context<FixedLocationsParams>): Promise<FixedLocation[]> {
				const { south, north, west, east } = ctx.params;
				const wraps = west < -180 || east > 180;
				const docs = await this.records.findMany(
					{
						...this.records.publicQuery(),
						"location.lat": { $gte: south, $lte: north },
						...(wraps ? {} : { "location.lng": { $gte: west, $lte: east } }),
					},
					{ limit: 5000 }
				);
				return docs.flatMap(d => (d.location ? [{ vendorId: d.id, lat: d.location.lat, lng: d.location.lng }] : []));
			},
		},
	},

	created() {
		this.records = new VendorRecords(this.adapter, () => this.clearCache(), this.settings.config.requireSubscription);
		this.ratingQueue = new KeyedQueue();
		this.reports = new ReportClock();
	},

	async started() {
		this.reviewStore = await this.openStore("reviews", [{ fields: { vendorId: 1 } }, { fields: { userId: 1 } }]);
		this.subscriptionStore = await this.openStore("subscriptions", []);
	},
};

export default VendorsService;
