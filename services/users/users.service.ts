import type { Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { nothingToChange, notFound, unauthorized } from "../../lib/errors.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { userIdParam, vendorIdParam } from "../../lib/ids.ts";
import { ROLES, type Caller, type CallerMeta } from "../../lib/identity.ts";
import { createDbMixin, type DbMethods } from "../../mixins/db.mixin.ts";
import type { Vendor } from "../vendors/contract.ts";
import {
	LOOKUP_MAX,
	type FavoriteParams,
	type GetParams,
	type LookupParams,
	type RemoveParams,
	type ResolveParams,
	type SetRoleParams,
	type UpdateMeParams,
	type UpsertFromClerkParams,
	type User,
} from "./contract.ts";

type UserDoc = User & { deletedAt: string | null };

type UsersMethods = {
	findUser(id: string): Promise<UserDoc | null>;
	liveUser(id: string): Promise<UserDoc>;
	createUser(ctx: Context, fields: Partial<User> & { id: string }): Promise<UserDoc>;
	changed(ctx: Context, before: UserDoc, set: Partial<UserDoc>): Promise<User>;
	setFavorite(ctx: Context<unknown, CallerMeta>, vendorId: string, favorite: boolean): Promise<{ favorites: string[] }>;
	write(id: string, update: object): Promise<UserDoc>;
};

const nameField = { type: "string", trim: true, max: 100, optional: true, nullable: true } as const;
const urlField = { type: "string", trim: true, max: 2048, pattern: /^https?:\/\/\S+$/i, optional: true, nullable: true } as const;

const fromDoc = ({ _id, ...rest }: Record<string, unknown>) => ({ id: _id, ...rest }) as UserDoc;
const publicUser = ({ deletedAt: _d, ...user }: UserDoc): User => user;
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
			async handler(ctx: Context<object, CallerMeta>): Promise<User> {
				return publicUser(await this.liveUser(caller(ctx).id));
			},
		},

		/** `PATCH /api/me` — the profile fields a user edits here (email and role come from Clerk). */
		updateMe: {
			rest: "PATCH /",
			auth: "required",
			params: { $$strict: true, firstName: nameField, lastName: nameField, imageUrl: urlField },
			async handler(ctx: Context<UpdateMeParams, CallerMeta>): Promise<User> {
				if (Object.keys(ctx.params).length === 0) {
					throw nothingToChange();
				}
				const before = await this.liveUser(caller(ctx).id);
				return this.changed(ctx, before, ctx.params);
			},
		},

		/** `GET /api/me/favorites` — the caller's favourite vendors (deleted ones drop out). */
		favorites: {
			rest: "GET /favorites",
			auth: "required",
			params: { $$strict: true },
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
			async handler(ctx: Context<FavoriteParams, CallerMeta>): Promise<{ favorites: string[] }> {
				return this.setFavorite(ctx, ctx.params.vendorId, false);
			},
		},

		/** Clerk webhook path: fills the profile in; the role changes only when Clerk states one. */
		upsertFromClerk: {
			params: {
				$$strict: true,
				id: userIdParam,
				email: { type: "email", max: 254, optional: true, nullable: true },
				firstName: nameField,
				lastName: nameField,
				imageUrl: urlField,
				role: { type: "enum", values: [...ROLES], optional: true },
			},
			async handler(ctx: Context<UpsertFromClerkParams>): Promise<User> {
				const { id, ...fields } = ctx.params;
				const before = await this.findUser(id);
				if (!before) return publicUser(await this.createUser(ctx, { id, ...fields }));
				if (before.deletedAt) return publicUser(before);
				return this.changed(ctx, before, fields);
			},
		},

		/** Soft delete; the user's vendors are paused and detached. */
		remove: {
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

		/** Admin / REPL: `call users.setRole --id user_1 --role admin`. */
		setRole: {
			params: { $$strict: true, id: userIdParam, role: { type: "enum", values: [...ROLES] } },
			async handler(ctx: Context<SetRoleParams>): Promise<User> {
				return this.changed(ctx, await this.liveUser(ctx.params.id), { role: ctx.params.role });
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
		async createUser(ctx: Context, fields: Partial<User> & { id: string }): Promise<UserDoc> {
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
			const changes = Object.fromEntries(
				Object.entries(set).filter(([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(before[k as keyof UserDoc]))
			);
			if (Object.keys(changes).length === 0) return publicUser(before);
			const user = publicUser(await this.write(before.id, { $set: { ...changes, updatedAt: new Date().toISOString() } }));
			await this.clearCache();
			await emitDomainEvent(this, ctx, "marketplace.user_updated", { id: user.id, changes, user }, { userId: user.id });
			return user;
		},
	},
};

export default UsersService;
