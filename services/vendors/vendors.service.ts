import { Errors, type Context, type Service, type ServiceSchema } from "moleculer";
import type { VentaSettings } from "../../runtime/engine.ts";
import { createDbMixin, type DbMethods, type Store } from "../../mixins/db.mixin.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { USER_ID } from "../../lib/auth.ts";
import { forbidden, type Caller, type CallerMeta } from "../../middlewares/authorization.middleware.ts";
import { KeyedQueue } from "../../lib/keyed-queue.ts";
import { recomputeRating, saveReview, toReview, type Review } from "./reviews.ts";
import {
	canBroadcast,
	subscriptionActive,
	newVendorId,
	profileParams,
	toVendor,
	vendorIdParam,
	type LatLng,
	type Subscription,
	type Vendor,
	type VendorDoc,
	type VendorStatus,
} from "./model.ts";

export type CreateParams = { name: string; description?: string; categories?: string[]; phone?: string; website?: string; imageUrl?: string; location?: LatLng | null };
export type UpdateParams = Partial<CreateParams> & { id: string };
export type GetParams = { id: string };
export type GetManyParams = { ids: string[] };
export type ListParams = { owner?: "me"; q?: string; category?: string; status?: VendorStatus; page?: number; pageSize?: number };
export type SetStatusParams = { id: string; status: "active" | "paused" | "suspended" };
export type AuthorizeBroadcastParams = { id: string };
export type DetachOwnerParams = { ownerId: string };
export type SetSubscriptionParams = { ownerId: string; subscription: Omit<Subscription, "expiresAt" | "updatedAt"> & { expiresAt?: Date | null; updatedAt?: Date | null } };
export type ReviewsParams = { id: string; page?: number; pageSize?: number };
export type SubmitReviewParams = { id: string; rating: number; text?: string };
export type DiscoverableParams = { ids: string[]; q?: string; category?: string };
export type FixedLocationsParams = { south: number; north: number; west: number; east: number };
export type Page<T> = { rows: T[]; total: number; page: number; pageSize: number; totalPages: number };

type VendorsThis = Service<VentaSettings> & DbMethods & {
	reviewStore: Store;
	subscriptionStore: Store;
	ratingQueue: KeyedQueue;
	findDoc(id: string): Promise<VendorDoc | null>;
	liveDoc(id: string): Promise<VendorDoc>;
	findDocs(query: object, opts?: { sort?: string[]; limit?: number; offset?: number }): Promise<VendorDoc[]>;
	write(id: string, set: Partial<VendorDoc>): Promise<VendorDoc>;
	publicQuery(): object;
	statusChanged(ctx: Context, before: VendorDoc, after: VendorDoc, extra?: object): Promise<void>;
	findPage<T>(store: Store, query: object, sort: string[], page: number, pageSize: number, map: (doc: Record<string, unknown>) => T): Promise<Page<T>>;
};

const ownerIdParam = { type: "string", pattern: USER_ID } as const;
const pageParams = {
	page: { type: "number", integer: true, min: 1, max: 10_000, convert: true, optional: true },
	pageSize: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true },
} as const;
const DEFAULT_PAGE_SIZE = 20;
const TEXT_FIELDS = ["name", "description", "categories"];

const caller = (ctx: Context<unknown, CallerMeta>): Caller => ctx.meta.user as Caller;
const notFound = (id: string) => new Errors.MoleculerClientError(`Vendor ${id} not found`, 404, "NOT_FOUND", { id });
const fromDoc = (doc: Record<string, unknown>): VendorDoc => {
	const { _id, ...rest } = doc;
	return { id: _id, ...rest } as VendorDoc;
};
const toTime = (d: string | Date | null | undefined) => (d ? new Date(d).getTime() : undefined);

const VendorsService: ServiceSchema<VentaSettings, any, any, VendorsThis> = {
	name: "vendors",
	mixins: [
		createDbMixin("vendors", [
			{ fields: { ownerId: 1 } },
			{ fields: { status: 1 } },
			{ fields: { categories: 1 } },
			{ fields: { name: "text", description: "text", categories: "text" } },
		]),
	],

	settings: {
		config: undefined as never,
		rest: "/vendors",
	},

	actions: {
		/** `POST /api/vendors` — onboarding: the caller becomes the owner of a new draft vendor. */
		create: {
			rest: "POST /",
			auth: "required",
			params: { $$strict: true, ...profileParams },
			async handler(this: VendorsThis, ctx: Context<CreateParams, CallerMeta & { $statusCode?: number; $location?: string }>): Promise<Vendor> {
				const user = caller(ctx);
				// Role first: if that fails nothing is created, and the client's retry makes no duplicate.
				if (user.role === "customer") await ctx.call("users.setRole", { id: user.id, role: "vendor" });
				const now = new Date().toISOString();
				const held: (Subscription & { _id: string }) | null = await this.subscriptionStore.findById(user.id);
				const { _id: _owner, ...heldSubscription } = held ?? { _id: "" };
				const { name, location, ...profile } = ctx.params;
				const doc = {
					_id: newVendorId(),
					ownerId: user.id,
					name,
					description: "",
					categories: [],
					...profile,
					...(location ? { location } : {}),
					status: "draft",
					subscription: held ? heldSubscription : { active: false, entitlements: [], expiresAt: null },
					ratingSum: 0,
					ratingCount: 0,
					ratingVersion: 0,
					createdAt: now,
					updatedAt: now,
					deletedAt: null,
				};
				const vendor = toVendor(fromDoc(await this.adapter.insert(doc)));
				await this.clearCache();
				await emitDomainEvent(this as never, ctx, "marketplace.vendor_onboarded", vendor, { vendorId: vendor.id, userId: user.id });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/vendors/${vendor.id}`;
				return vendor;
			},
		},

		/** `GET /api/vendors/:id` — public. */
		get: {
			rest: "GET /:id",
			params: { $$strict: true, id: vendorIdParam },
			cache: { keys: ["id"], ttl: 30 },
			async handler(this: VendorsThis, ctx: Context<GetParams>): Promise<Vendor> {
				return toVendor(await this.liveDoc(ctx.params.id));
			},
		},

		/** The existing vendors among `ids`, in that order. */
		getMany: {
			params: { $$strict: true, ids: { type: "array", items: vendorIdParam, max: 1000 } },
			async handler(this: VendorsThis, ctx: Context<GetManyParams>): Promise<Vendor[]> {
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
				q: { type: "string", trim: true, min: 1, max: 100, optional: true },
				category: { type: "string", trim: true, lowercase: true, min: 1, max: 40, optional: true },
				status: { type: "enum", values: ["draft", "active", "paused", "suspended"], optional: true },
				...pageParams,
			},
			async handler(this: VendorsThis, ctx: Context<ListParams, CallerMeta>): Promise<Page<Vendor>> {
				const { owner, q, category, status, page = 1, pageSize = DEFAULT_PAGE_SIZE } = ctx.params;
				const user = ctx.meta.user;
				if (owner === "me" && !user) throw new Errors.MoleculerClientError("owner=me needs a bearer token", 401, "NO_TOKEN");
				if (status && owner !== "me" && user?.role !== "admin") {
					throw new Errors.ValidationError("status filters only your own vendors (owner=me)", "VALIDATION_ERROR", [
						{ type: "forbidden", field: "status", message: "The 'status' filter needs owner=me." },
					]);
				}
				const query: Record<string, unknown> = {
					...(owner === "me" ? { deletedAt: null, ownerId: user!.id } : status ? { deletedAt: null } : this.publicQuery()),
					...(status ? { status } : {}),
					...(category ? { categories: category } : {}),
					...(q ? this.textQuery(q, TEXT_FIELDS) : {}),
				};
				return this.findPage(this.adapter, query, ["-createdAt", "-_id"], page, pageSize, doc => toVendor(fromDoc(doc)));
			},
		},

		/** `PATCH /api/vendors/:id` — owner or admin; `location: null` removes a fixed stall location. */
		update: {
			rest: "PATCH /:id",
			owns: "vendor",
			params: {
				$$strict: true,
				id: vendorIdParam,
				...profileParams,
				name: { ...profileParams.name, optional: true },
			},
			async handler(this: VendorsThis, ctx: Context<UpdateParams, CallerMeta>): Promise<Vendor> {
				const { id, ...changes } = ctx.params;
				if (Object.keys(changes).length === 0) {
					throw new Errors.ValidationError("Nothing to change", "VALIDATION_ERROR", [{ type: "required", field: "body", message: "Send at least one field to change." }]);
				}
				const before = ctx.locals.vendor as Vendor;
				const after = await this.write(id, changes as Partial<VendorDoc>);
				const vendor = toVendor(after);
				await emitDomainEvent(this as never, ctx, "marketplace.vendor_updated", { id, changes, vendor }, { vendorId: id, userId: before.ownerId });
				return vendor;
			},
		},

		/** `DELETE /api/vendors/:id` — soft delete; the vendor stops broadcasting. */
		remove: {
			rest: "DELETE /:id",
			owns: "vendor",
			params: { $$strict: true, id: vendorIdParam },
			async handler(this: VendorsThis, ctx: Context<GetParams, CallerMeta>): Promise<{ id: string; deleted: true }> {
				const before = await this.liveDoc(ctx.params.id);
				const status = before.status === "active" ? "paused" : before.status;
				const after = await this.write(before.id, { status, deletedAt: new Date().toISOString() });
				await this.statusChanged(ctx, before, after, { deleted: true });
				return { id: before.id, deleted: true };
			},
		},

		/** `POST /api/vendors/:id/status` — owner: active ⇄ paused; admin also suspends and lifts suspension. */
		setStatus: {
			rest: "POST /:id/status",
			owns: "vendor",
			params: { $$strict: true, id: vendorIdParam, status: { type: "enum", values: ["active", "paused", "suspended"] } },
			async handler(this: VendorsThis, ctx: Context<SetStatusParams, CallerMeta>): Promise<Vendor> {
				const { id, status } = ctx.params;
				const admin = caller(ctx).role === "admin";
				const before = await this.liveDoc(id);
				if (before.status === status) return toVendor(before);
				if (status === "suspended" && !admin) throw forbidden("Only an admin can suspend a vendor");
				if (before.status === "suspended" && !admin) throw forbidden("This vendor is suspended; only an admin can lift that");
				if (before.status === "draft" && status === "paused" && !admin) {
					throw new Errors.MoleculerClientError("A draft vendor goes active first", 409, "CONFLICT", { status: before.status });
				}
				if (status === "active" && this.settings.config.requireSubscription && !subscriptionActive(before.subscription)) {
					throw forbidden("An active subscription is required to go live", "SUBSCRIPTION_REQUIRED");
				}
				const after = await this.write(id, { status });
				await this.statusChanged(ctx, before, after);
				return toVendor(after);
			},
		},

		/** For the live gateway: the vendor, if the caller owns it (or is admin) and it may broadcast now. */
		authorizeBroadcast: {
			owns: "vendor",
			params: { $$strict: true, id: vendorIdParam },
			async handler(this: VendorsThis, ctx: Context<AuthorizeBroadcastParams, CallerMeta>): Promise<Vendor> {
				const vendor = ctx.locals.vendor as Vendor;
				if (vendor.status !== "active") throw forbidden(`Vendor is ${vendor.status}, not active`, "NOT_ACTIVE");
				if (!canBroadcast(vendor, this.settings.config.requireSubscription)) {
					throw forbidden("An active subscription is required to broadcast", "SUBSCRIPTION_REQUIRED");
				}
				return vendor;
			},
		},

		/** The owner was deleted: pause their vendors and detach them. Returns the affected ids. */
		detachOwner: {
			params: { $$strict: true, ownerId: ownerIdParam },
			async handler(this: VendorsThis, ctx: Context<DetachOwnerParams>): Promise<string[]> {
				const docs = await this.findDocs({ ownerId: ctx.params.ownerId, deletedAt: null });
				for (const before of docs) {
					const after = await this.write(before.id, { ownerId: null, status: before.status === "active" ? "paused" : before.status });
					await this.statusChanged(ctx, before, after, { previousOwnerId: before.ownerId });
				}
				return docs.map(d => d.id);
			},
		},

		/** RevenueCat state for every vendor of the owner; an update older than the stored one is ignored. */
		setSubscription: {
			params: {
				$$strict: true,
				ownerId: ownerIdParam,
				subscription: {
					type: "object",
					strict: true,
					props: {
						active: "boolean",
						entitlements: { type: "array", items: { type: "string", max: 100 }, max: 50 },
						expiresAt: { type: "date", convert: true, optional: true, nullable: true },
						store: { type: "string", max: 40, optional: true, nullable: true },
						environment: { type: "string", max: 40, optional: true, nullable: true },
						updatedAt: { type: "date", convert: true, optional: true, nullable: true },
					},
				},
			},
			async handler(this: VendorsThis, ctx: Context<SetSubscriptionParams>): Promise<string[]> {
				const { ownerId } = ctx.params;
				const s = ctx.params.subscription;
				const subscription: Subscription = {
					active: s.active,
					entitlements: s.entitlements,
					expiresAt: s.expiresAt ? s.expiresAt.toISOString() : null,
					store: s.store ?? null,
					environment: s.environment ?? null,
					updatedAt: (s.updatedAt ?? new Date()).toISOString(),
				};
				const isOlder = (stored: Subscription | undefined) => (toTime(stored?.updatedAt) ?? -Infinity) > toTime(subscription.updatedAt)!;

				const held: Subscription | null = await this.subscriptionStore.findById(ownerId);
				if (!held) await this.subscriptionStore.insert({ _id: ownerId, ...subscription }).catch(() => this.subscriptionStore.updateMany({ _id: ownerId }, { $set: subscription }));
				else if (!isOlder(held)) await this.subscriptionStore.updateMany({ _id: ownerId }, { $set: subscription });

				const affected: string[] = [];
				const requireSubscription = this.settings.config.requireSubscription;
				for (const before of await this.findDocs({ ownerId, deletedAt: null })) {
					if (isOlder(before.subscription)) continue;
					const after = await this.write(before.id, { subscription });
					affected.push(before.id);
					if (canBroadcast(before, requireSubscription) !== canBroadcast(after, requireSubscription)) await this.statusChanged(ctx, before, after);
				}
				await emitDomainEvent(this as never, ctx, "payments.subscription_changed", { ownerId, vendorIds: affected, subscription }, { userId: ownerId });
				return affected;
			},
		},

		/** `GET /api/vendors/:id/reviews` — newest first. */
		reviews: {
			rest: "GET /:id/reviews",
			params: { $$strict: true, id: vendorIdParam, ...pageParams },
			async handler(this: VendorsThis, ctx: Context<ReviewsParams>): Promise<Page<Review>> {
				const { id, page = 1, pageSize = DEFAULT_PAGE_SIZE } = ctx.params;
				await this.liveDoc(id);
				return this.findPage(this.reviewStore, { vendorId: id }, ["-updatedAt", "-_id"], page, pageSize, toReview);
			},
		},

		/** `POST /api/vendors/:id/reviews` — one per user per vendor: a second submission replaces the first. */
		submitReview: {
			rest: "POST /:id/reviews",
			auth: "required",
			params: {
				$$strict: true,
				id: vendorIdParam,
				rating: { type: "number", integer: true, min: 1, max: 5 },
				text: { type: "string", trim: true, max: 2000, optional: true },
			},
			async handler(this: VendorsThis, ctx: Context<SubmitReviewParams, CallerMeta & { $statusCode?: number; $location?: string }>) {
				const { id, rating, text = "" } = ctx.params;
				const user = caller(ctx);
				const vendor = await this.liveDoc(id);
				if (vendor.ownerId === user.id) throw forbidden("You cannot review your own vendor");
				const { review, created } = await saveReview(this.reviewStore, id, user.id, rating, text);
				const { sum, count } = await this.ratingQueue.run(id, () => recomputeRating(this.adapter, this.reviewStore, id));
				await this.clearCache();
				const average = toVendor({ ...vendor, ratingSum: sum, ratingCount: count }).rating;
				await emitDomainEvent(this as never, ctx, "marketplace.review_submitted", { review, created, rating: average }, { vendorId: id, userId: user.id });
				if (created) {
					ctx.meta.$statusCode = 201;
					ctx.meta.$location = `/api/vendors/${id}/reviews`;
				}
				return { review, rating: average };
			},
		},

		/** For discovery: the live vendors among `ids` that match the text and category filters. */
		discoverable: {
			params: {
				$$strict: true,
				ids: { type: "array", items: vendorIdParam, max: 5000 },
				q: { type: "string", trim: true, min: 1, max: 100, optional: true },
				category: { type: "string", trim: true, lowercase: true, min: 1, max: 40, optional: true },
			},
			async handler(this: VendorsThis, ctx: Context<DiscoverableParams>): Promise<Vendor[]> {
				if (ctx.params.ids.length === 0) return [];
				const { q, category } = ctx.params;
				// Only the ids at the top level: the embedded store then narrows its candidates through
				// the _id index instead of scanning every active vendor.
				const docs = await this.findDocs({
					_id: { $in: ctx.params.ids },
					$and: [{ ...this.publicQuery(), ...(category ? { categories: category } : {}), ...(q ? this.textQuery(q, TEXT_FIELDS) : {}) }],
				});
				return docs.map(toVendor);
			},
		},

		/** Fixed positions of live stalls inside a box (the position source until live positions exist). */
		fixedLocations: {
			params: {
				$$strict: true,
				south: { type: "number", min: -90, max: 90 },
				north: { type: "number", min: -90, max: 90 },
				west: { type: "number", min: -540, max: 540 },
				east: { type: "number", min: -540, max: 540 },
			},
			async handler(this: VendorsThis, ctx: Context<FixedLocationsParams>): Promise<{ vendorId: string; lat: number; lng: number }[]> {
				const { south, north, west, east } = ctx.params;
				const wraps = west < -180 || east > 180;
				const docs = await this.findDocs(
					{
						...this.publicQuery(),
						"location.lat": { $gte: south, $lte: north },
						...(wraps ? {} : { "location.lng": { $gte: west, $lte: east } }),
					},
					{ limit: 5000 }
				);
				return docs.flatMap(d => (d.location ? [{ vendorId: d.id, lat: d.location.lat, lng: d.location.lng }] : []));
			},
		},
	},

	methods: {
		async findDoc(this: VendorsThis, id: string): Promise<VendorDoc | null> {
			const doc = await this.adapter.findById(id);
			return doc ? fromDoc(doc) : null;
		},

		async liveDoc(this: VendorsThis, id: string): Promise<VendorDoc> {
			const doc = await this.findDoc(id);
			if (!doc || doc.deletedAt) throw notFound(id);
			return doc;
		},

		async findDocs(this: VendorsThis, query: object, opts = {}): Promise<VendorDoc[]> {
			return (await this.adapter.find({ query, ...opts })).map(fromDoc);
		},

		/** `$set` with a fresh `updatedAt`; `location: null` unsets the stall location. */
		async write(this: VendorsThis, id: string, set: Partial<VendorDoc>): Promise<VendorDoc> {
			const { location, ...rest } = set as Partial<VendorDoc> & { location?: LatLng | null };
			const update: Record<string, object> = { $set: { ...rest, ...(location ? { location } : {}), updatedAt: new Date().toISOString() } };
			if (location === null) update.$unset = { location: true };
			const doc = await this.adapter.updateById(id, update);
			await this.clearCache();
			if (!doc) throw notFound(id);
			return fromDoc(doc);
		},

		/** Vendors anyone may find: live now (status active, and subscribed when that is required). */
		publicQuery(this: VendorsThis) {
			if (!this.settings.config.requireSubscription) return { deletedAt: null, status: "active" };
			// Under $and, so that it composes with the $or of a text query.
			const unexpired = { $or: [{ "subscription.expiresAt": null }, { "subscription.expiresAt": { $gt: new Date().toISOString() } }] };
			return { deletedAt: null, status: "active", "subscription.active": true, $and: [unexpired] };
		},

		async statusChanged(this: VendorsThis, ctx: Context, before: VendorDoc, after: VendorDoc, extra: object = {}) {
			const requireSubscription = this.settings.config.requireSubscription;
			const data = {
				id: after.id,
				ownerId: after.ownerId,
				status: after.status,
				previous: before.status,
				canBroadcast: !after.deletedAt && canBroadcast(after, requireSubscription),
				// The audit trail: who made the change (null for the system, e.g. a webhook); the envelope says when.
				by: (ctx.meta as CallerMeta).user ?? null,
				...extra,
			};
			await emitDomainEvent(this as never, ctx, "marketplace.vendor_status_changed", data, { vendorId: after.id, userId: before.ownerId });
		},

		/** One page of `query` in `sort` order, with the total count. */
		async findPage<T>(this: VendorsThis, store: Store, query: object, sort: string[], page: number, pageSize: number, map: (doc: Record<string, unknown>) => T): Promise<Page<T>> {
			const [docs, total] = await Promise.all([store.find({ query, sort, limit: pageSize, offset: (page - 1) * pageSize }), store.count({ query })]);
			return { rows: docs.map(map), total, page, pageSize, totalPages: Math.ceil(total / pageSize) };
		},
	},

	created(this: VendorsThis) {
		this.ratingQueue = new KeyedQueue();
	},

	async started(this: VendorsThis) {
		this.reviewStore = await this.openStore("reviews", [{ fields: { vendorId: 1 } }, { fields: { userId: 1 } }]);
		this.subscriptionStore = await this.openStore("subscriptions", []);
	},
};

export default VendorsService;
