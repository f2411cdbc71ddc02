import type { Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { nothingToChange, notFound, unauthorized } from "../../lib/errors.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { userIdParam, vendorIdParam } from "../../lib/ids.ts";
import { PRIVILEGED, ROLES, type Caller, type CallerMeta } from "../../lib/identity.ts";
import { createDbMixin, type DbMethods } from "../../mixins/db.mixin.ts";
import type { Vendor } from "../vendors/contract.ts";
import {
	FAVORITE_VENDORS_SCHEMA,
	FAVORITES_SCHEMA,
	LOOKUP_MAX,
	USER_SCHEMA,
	type ClerkUpsertOutcome,
	type FavoriteParams,
	type GetParams,
	type LookupParams,
	type RemoveParams,
	type ResolveParams,
	type SetRoleParams,
	type UpdateMeParams,
	type UpsertFromClerkParams,
	type UpsertFromClerkResult,
	type User,
} from "./contract.ts";

/** `clerkUpdatedAt`: Clerk's `updated_at` of the profile applied last (null or absent: none applied with one). */
type UserDoc = User & { deletedAt: string | null; clerkUpdatedAt?: number | null };
type NewUser = Partial<User> & { id: string; clerkUpdatedAt?: number };
type ClerkFields = Omit<UpsertFromClerkParams, "id" | "clerkUpdatedAt">;

type UsersMethods = {
	findUser(id: string): Promise<UserDoc | null>;
	liveUser(id: string): Promise<UserDoc>;
	createUser(ctx: Context, fields: NewUser): Promise<UserDoc>;
	changed(ctx: Context, before: UserDoc, set: Partial<UserDoc>): Promise<User>;
	applyClerkProfile(ctx: Context, before: UserDoc, fields: ClerkFields, clerkUpdatedAt?: number): Promise<UpsertFromClerkResult>;
	announce(ctx: Context, user: User, changes: Record<string, unknown>): Promise<void>;
	setFavorite(ctx: Context<unknown, CallerMeta>, vendorId: string, favorite: boolean): Promise<{ favorites: string[] }>;
	write(id: string, update: object): Promise<UserDoc>;
};

const nameField = { type: "string", trim: true, max: 100, optional: true, nullable: true } as const;
const urlField = { type: "string", trim: true, max: 2048, pattern: /^https?:\/\/\S+$/i, optional: true, nullable: true } as const;

const fromDoc = ({ _id, ...rest }: Record<string, unknown>) => ({ id: _id, ...rest }) as UserDoc;
const publicUser = ({ deletedAt: _d, clerkUpdatedAt: _c, ...user }: UserDoc): User => user;
const withOutcome = (doc: UserDoc, outcome: ClerkUpsertOutcome): UpsertFromClerkResult => ({ ...publicUser(doc), outcome });

/** The fields of `set` whose values differ from `before`'s. */
const changesOf = (before: UserDoc, set: Partial<UserDoc>): Record<string, unknown> =>
	Object.fromEntries(
		Object.entries(set).filter(([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(before[k as keyof UserDoc]))
	);
/** Whether `doc` holds a Clerk profile newer than one of `clerkUpdatedAt` (a profile without one is never older). */
const hasNewerThan = (doc: UserDoc, clerkUpdatedAt: number | undefined) =>
	clerkUpdatedAt !== undefined && (doc.clerkUpdatedAt ?? Number.NEGATIVE_INFINITY) > clerkUpdatedAt;
/** The store query for "no newer Clerk profile applied" (absent, null or not later). */
const notNewerThan = (clerkUpdatedAt: number | undefined) =>
	clerkUpdatedAt === undefined
		? {}
		: { $or: [{ clerkUpdatedAt: { $exists: false } }, { clerkUpdatedAt: null }, { clerkUpdatedAt: { $lte: clerkUpdatedAt } }] };
const caller = (ctx: Context<unknown, CallerMeta>): Caller => ctx.meta.user as Caller;
const userNotFound = (id: string) => notFound(`User ${id} not found`, { id });

const UsersService: VentaServiceSchema<{ rest: string }, UsersMethods & DbMethods> = {
	name: "users",
	mixins: [createDbMixin("users", [{ fields: { role: 1 } }])],

	settings: {
		rest: "/me",
	},

	actions: {
		/** Gateways call this for every authenticated request: the caller, created on first use. */
		resolve: {
			params: { $$strict: true, id: userIdParam, claims: { type: "object", optional: true } },
			cache: { keys: ["id"], ttl: 30 },
			async handler(ctx: Context<ResolveParams>): Promise<Caller> {
				const existing = (await this.findUser(ctx.params.id)) ?? (await this.createUser(ctx, { id: ctx.params.id }));
				if (existing.deletedAt) throw unauthorized("This account was deleted", "UNAUTHORIZED");
				return { id: existing.id, role: existing.role };
			},
		},

		get: {
			params: { $$strict: true, id: userIdParam },
			cache: { keys: ["id"], ttl: 30 },
			async handler(ctx: Context<GetParams>): Promise<User> {
				return publicUser(await this.liveUser(ctx.params.id));
			},
		},

		/** `GET /api/me` */
		me: {
			rest: "GET /",
			auth: "required",
			params: { $$strict: true },
			openapi: { responses: { 200: USER_SCHEMA } },
			async handler(ctx: Context<object, CallerMeta>): Promise<User> {
				return publicUser(await this.liveUser(caller(ctx).id));
			},
		},

		/** `PATCH /api/me` — the profile fields a user edits here (email and role come from Clerk). */
		updateMe: {
			rest: "PATCH /",
			auth: "required",
			params: { $$strict: true, firstName: nameField, lastName: nameField, imageUrl: urlField },
			openapi: { responses: { 200: USER_SCHEMA } },
			async handler(ctx: Context<UpdateMeParams, CallerMeta>): Promise<User> {
				if (Object.keys(ctx.params).length === 0) throw nothingToChange();
				const before = await this.liveUser(caller(ctx).id);
				return this.changed(ctx, before, ctx.params);
			},
		},

		/** `GET /api/me/favorites` — the caller's favourite vendors (deleted ones drop out). */
		favorites: {
			rest: "GET /favorites",
			auth: "required",
			params: { $$strict: true },
			openapi: { responses: { 200: FAVORITE_VENDORS_SCHEMA } },
			async handler(ctx: Context<object, CallerMeta>): Promise<{ rows: Vendor[]; total: number }> {
				const user = await this.liveUser(caller(ctx).id);
				const rows = await ctx.call<Vendor[], { ids: string[] }>("vendors.getMany", { ids: user.favorites });
				return { rows, total: rows.length };
			},
		},

		/** `PUT /api/me/favorites/:vendorId` — idempotent. */
		addFavorite: {
			rest: "PUT /favorites/:vendorId",
			auth: "required",
			params: { $$strict: true, vendorId: vendorIdParam },
			openapi: { responses: { 200: FAVORITES_SCHEMA } },
			async handler(ctx: Context<FavoriteParams, CallerMeta>): Promise<{ favorites: string[] }> {
				await ctx.call("vendors.get", { id: ctx.params.vendorId });
				return this.setFavorite(ctx, ctx.params.vendorId, true);
			},
		},

		/** `DELETE /api/me/favorites/:vendorId` — idempotent. */
		removeFavorite: {
			rest: "DELETE /favorites/:vendorId",
			auth: "required",
			params: { $$strict: true, vendorId: vendorIdParam },
			openapi: { responses: { 200: FAVORITES_SCHEMA } },
			async handler(ctx: Context<FavoriteParams, CallerMeta>): Promise<{ favorites: string[] }> {
				return this.setFavorite(ctx, ctx.params.vendorId, false);
			},
		},

		/**
		 * Clerk webhook path: fills the profile in; the role changes only when Clerk states one. A
		 * profile older than the one applied (Clerk's `updated_at`) changes nothing, and a deleted
		 * user stays deleted: the result's `outcome` says which.
		 */
		upsertFromClerk: {
			roles: PRIVILEGED,
			params: {
				$$strict: true,
				id: userIdParam,
				email: { type: "email", max: 254, optional: true, nullable: true },
				firstName: nameField,
				lastName: nameField,
				imageUrl: urlField,
				role: { type: "enum", values: [...ROLES], optional: true },
				clerkUpdatedAt: { type: "number", integer: true, min: 0, optional: true },
			},
			async handler(ctx: Context<UpsertFromClerkParams>): Promise<UpsertFromClerkResult> {
				const { id, clerkUpdatedAt, ...fields } = ctx.params;
				const before = await this.findUser(id);
				if (!before) return withOutcome(await this.createUser(ctx, { id, ...fields, clerkUpdatedAt }), "applied");
				return this.applyClerkProfile(ctx, before, fields, clerkUpdatedAt);
			},
		},

		/** Soft delete; the user's vendors are paused and detached. */
		remove: {
			roles: PRIVILEGED,
			params: { $$strict: true, id: userIdParam },
			async handler(ctx: Context<RemoveParams>): Promise<{ id: string; deleted: true }> {
				const before = await this.findUser(ctx.params.id);
				if (!before) throw userNotFound(ctx.params.id);
				if (!before.deletedAt) {
					// Vendors first: if that fails, the user is still live and a retry does both.
					await ctx.call("vendors.detachOwner", { ownerId: before.id });
					await this.adapter.updateById(before.id, { $set: { deletedAt: new Date().toISOString(), favorites: [] } });
					await this.clearCache();
					await emitDomainEvent(this, ctx, "marketplace.user_deleted", { id: before.id }, { userId: before.id });
				}
				return { id: before.id, deleted: true };
			},
		},

		/** Admin / REPL (`role <userId> <role>`): any role, for anyone. */
		setRole: {
			roles: PRIVILEGED,
			params: { $$strict: true, id: userIdParam, role: { type: "enum", values: [...ROLES] } },
			async handler(ctx: Context<SetRoleParams>): Promise<User> {
				return this.changed(ctx, await this.liveUser(ctx.params.id), { role: ctx.params.role });
			},
		},

		/** Onboarding (vendors.create, as the caller): a customer becomes a vendor; anyone else keeps their role. */
		becomeVendor: {
			auth: "required",
			params: { $$strict: true },
			async handler(ctx: Context<object, CallerMeta>): Promise<User> {
				const user = await this.liveUser(caller(ctx).id);
				return user.role === "customer" ? this.changed(ctx, user, { role: "vendor" }) : publicUser(user);
			},
		},

		/** The first existing, not deleted user among `ids` (in that order), or null. */
		lookup: {
			params: { $$strict: true, ids: { type: "array", items: userIdParam, min: 1, max: LOOKUP_MAX } },
			async handler(ctx: Context<LookupParams>): Promise<User | null> {
				const docs = (await this.adapter.findByIds(ctx.params.ids)).map(fromDoc);
				for (const id of ctx.params.ids) {
					const doc = docs.find(d => d.id === id && !d.deletedAt);
					if (doc) return publicUser(doc);
				}
				return null;
			},
		},
	},

	methods: {
		async findUser(id: string): Promise<UserDoc | null> {
			const doc = await this.adapter.findById(id);
			return doc ? fromDoc(doc) : null;
		},

		async liveUser(id: string): Promise<UserDoc> {
			const doc = await this.findUser(id);
			if (!doc || doc.deletedAt) throw userNotFound(id);
			return doc;
		},

		/** Inserts a new user; a concurrent first use that won the race is read back instead. */
		async createUser(ctx: Context, fields: NewUser): Promise<UserDoc> {
			const now = new Date().toISOString();
			const doc: UserDoc = {
				id: fields.id,
				email: fields.email ?? null,
				firstName: fields.firstName ?? null,
				lastName: fields.lastName ?? null,
				imageUrl: fields.imageUrl ?? null,
				role: fields.role ?? "customer",
				favorites: [],
				createdAt: now,
				updatedAt: now,
				deletedAt: null,
				clerkUpdatedAt: fields.clerkUpdatedAt ?? null,
			};
			const { id, ...rest } = doc;
			try {
				await this.adapter.insert({ _id: id, ...rest });
			} catch (err) {
				const winner = await this.findUser(id);
				if (winner) return winner;
				throw err;
			}
			await this.clearCache();
			await emitDomainEvent(this, ctx, "marketplace.user_registered", publicUser(doc), { userId: id });
			return doc;
		},

		/** One update of a live user; 404 if it vanished meanwhile. */
		async write(id: string, update: object): Promise<UserDoc> {
			const doc = await this.adapter.updateById(id, update);
			if (!doc) throw userNotFound(id);
			return fromDoc(doc);
		},

		/** Adds or removes a favourite atomically; emits `marketplace.user_updated` when the list changed. */
		async setFavorite(ctx: Context<unknown, CallerMeta>, vendorId: string, favorite: boolean) {
			const before = await this.liveUser(caller(ctx).id);
			const update = favorite ? { $addToSet: { favorites: vendorId } } : { $pull: { favorites: vendorId } };
			const after = await this.write(before.id, update);
			if (after.favorites.length !== before.favorites.length) {
				await this.clearCache();
				const data = { id: after.id, changes: { favorites: after.favorites }, favorite: { vendorId, added: favorite } };
				await emitDomainEvent(this, ctx, "marketplace.user_updated", data, { userId: after.id, vendorId });
			}
			return { favorites: after.favorites };
		},

		/** Applies a change; emits `marketplace.user_updated` with the fields that changed. */
		async changed(ctx: Context, before: UserDoc, set: Partial<UserDoc>): Promise<User> {
			const changes = changesOf(before, set);
			if (Object.keys(changes).length === 0) return publicUser(before);
			const user = publicUser(await this.write(before.id, { $set: { ...changes, updatedAt: new Date().toISOString() } }));
			await this.announce(ctx, user, changes);
			return user;
		},

		/**
		 * A Clerk profile onto an existing user, with its `updated_at` as the mark, in one conditional
		 * write: a newer profile or a delete that lands meanwhile wins over this one.
		 */
		async applyClerkProfile(ctx: Context, before: UserDoc, fields: ClerkFields, clerkUpdatedAt?: number) {
			if (before.deletedAt) return withOutcome(before, "deleted");
			if (hasNewerThan(before, clerkUpdatedAt)) return withOutcome(before, "stale");
			const changes = changesOf(before, fields);
			const touched = Object.keys(changes).length > 0;
			const mark = clerkUpdatedAt !== undefined && clerkUpdatedAt !== before.clerkUpdatedAt ? { clerkUpdatedAt } : {};
			if (!touched && !("clerkUpdatedAt" in mark)) return withOutcome(before, "applied");

			const set = { ...changes, ...mark, ...(touched ? { updatedAt: new Date().toISOString() } : {}) };
			const written = await this.adapter.updateMany({ _id: before.id, deletedAt: null, ...notNewerThan(clerkUpdatedAt) }, { $set: set });
			const after = (await this.findUser(before.id)) ?? before;
			if (after.deletedAt) return withOutcome(after, "deleted");
			if (hasNewerThan(after, clerkUpdatedAt)) return withOutcome(after, "stale");
			if (written > 0 && touched) await this.announce(ctx, publicUser(after), changes);
			return withOutcome(after, "applied");
		},

		/** Drops cached reads and emits `marketplace.user_updated` with the fields that changed. */
		async announce(ctx: Context, user: User, changes: Record<string, unknown>) {
			await this.clearCache();
			await emitDomainEvent(this, ctx, "marketplace.user_updated", { id: user.id, changes, user }, { userId: user.id });
		},
	},
};

export default UsersService;
