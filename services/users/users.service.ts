import { Errors, type Context, type Service, type ServiceSchema } from "moleculer";
import type { VentaSettings } from "../../runtime/engine.ts";
import { createDbMixin, type DbMethods } from "../../mixins/db.mixin.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { USER_ID } from "../../lib/auth.ts";
import { ROLES, type Caller, type CallerMeta, type Role } from "../../middlewares/authorization.middleware.ts";
import { vendorIdParam, type Vendor } from "../vendors/model.ts";

/** A user profile, keyed by the Clerk user id. */
export type User = {
	id: string;
	email: string | null;
	firstName: string | null;
	lastName: string | null;
	imageUrl: string | null;
	role: Role;
	favorites: string[];
	createdAt: string;
	updatedAt: string;
};
type UserDoc = User & { deletedAt: string | null };

export type ResolveParams = { id: string; claims?: Record<string, unknown> };
export type GetParams = { id: string };
export type UpsertFromClerkParams = { id: string; email?: string | null; firstName?: string | null; lastName?: string | null; imageUrl?: string | null; role?: Role };
export type RemoveParams = { id: string };
export type SetRoleParams = { id: string; role: Role };
export type LookupParams = { ids: string[] };
export type UpdateMeParams = { firstName?: string | null; lastName?: string | null; imageUrl?: string | null };
export type FavoriteParams = { vendorId: string };

type UsersThis = Service<VentaSettings> & DbMethods & {
	findUser(id: string): Promise<UserDoc | null>;
	liveUser(id: string): Promise<UserDoc>;
	createUser(ctx: Context, fields: Partial<User> & { id: string }): Promise<UserDoc>;
	changed(ctx: Context, before: UserDoc, set: Partial<UserDoc>): Promise<User>;
	setFavorite(ctx: Context<unknown, CallerMeta>, vendorId: string, favorite: boolean): Promise<{ favorites: string[] }>;
};

const userId = { type: "string", pattern: USER_ID } as const;
const nameField = { type: "string", trim: true, max: 100, optional: true, nullable: true } as const;
const urlField = { type: "string", trim: true, max: 2048, pattern: /^https?:\/\/\S+$/i, optional: true, nullable: true } as const;

const fromDoc = ({ _id, ...rest }: Record<string, unknown>) => ({ id: _id, ...rest }) as UserDoc;
const publicUser = ({ deletedAt: _d, ...user }: UserDoc): User => user;
const caller = (ctx: Context<unknown, CallerMeta>): Caller => ctx.meta.user as Caller;
const notFound = (id: string) => new Errors.MoleculerClientError(`User ${id} not found`, 404, "NOT_FOUND", { id });

const UsersService: ServiceSchema<VentaSettings, any, any, UsersThis> = {
	name: "users",
	mixins: [createDbMixin("users", [{ fields: { role: 1 } }])],

	settings: {
		config: undefined as never,
		rest: "/me",
	},

	actions: {
		/** Gateways call this for every authenticated request: the caller, created on first use. */
		resolve: {
			params: { $$strict: true, id: userId, claims: { type: "object", optional: true } },
			cache: { keys: ["id"], ttl: 30 },
			async handler(this: UsersThis, ctx: Context<ResolveParams>): Promise<Caller> {
				const existing = (await this.findUser(ctx.params.id)) ?? (await this.createUser(ctx, { id: ctx.params.id }));
				if (existing.deletedAt) throw new Errors.MoleculerClientError("This account was deleted", 401, "UNAUTHORIZED");
				return { id: existing.id, role: existing.role };
			},
		},

		get: {
			params: { $$strict: true, id: userId },
			cache: { keys: ["id"], ttl: 30 },
			async handler(this: UsersThis, ctx: Context<GetParams>): Promise<User> {
				return publicUser(await this.liveUser(ctx.params.id));
			},
		},

		/** `GET /api/me` */
		me: {
			rest: "GET /",
			auth: "required",
			params: { $$strict: true },
			async handler(this: UsersThis, ctx: Context<object, CallerMeta>): Promise<User> {
				return publicUser(await this.liveUser(caller(ctx).id));
			},
		},

		/** `PATCH /api/me` — the profile fields a user edits here (email and role come from Clerk). */
		updateMe: {
			rest: "PATCH /",
			auth: "required",
			params: { $$strict: true, firstName: nameField, lastName: nameField, imageUrl: urlField },
			async handler(this: UsersThis, ctx: Context<UpdateMeParams, CallerMeta>): Promise<User> {
				if (Object.keys(ctx.params).length === 0) {
					throw new Errors.ValidationError("Nothing to change", "VALIDATION_ERROR", [{ type: "required", field: "body", message: "Send at least one field to change." }]);
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
			async handler(this: UsersThis, ctx: Context<object, CallerMeta>): Promise<{ rows: Vendor[]; total: number }> {
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
			async handler(this: UsersThis, ctx: Context<FavoriteParams, CallerMeta>): Promise<{ favorites: string[] }> {
				await ctx.call("vendors.get", { id: ctx.params.vendorId });
				return this.setFavorite(ctx, ctx.params.vendorId, true);
			},
		},

		/** `DELETE /api/me/favorites/:vendorId` — idempotent. */
		removeFavorite: {
			rest: "DELETE /favorites/:vendorId",
			auth: "required",
			params: { $$strict: true, vendorId: vendorIdParam },
			async handler(this: UsersThis, ctx: Context<FavoriteParams, CallerMeta>): Promise<{ favorites: string[] }> {
				return this.setFavorite(ctx, ctx.params.vendorId, false);
			},
		},

		/** Clerk webhook path: fills the profile in; the role changes only when Clerk states one. */
		upsertFromClerk: {
			params: {
				$$strict: true,
				id: userId,
				email: { type: "email", max: 254, optional: true, nullable: true },
				firstName: nameField,
				lastName: nameField,
				imageUrl: urlField,
				role: { type: "enum", values: [...ROLES], optional: true },
			},
			async handler(this: UsersThis, ctx: Context<UpsertFromClerkParams>): Promise<User> {
				const { id, ...fields } = ctx.params;
				const before = await this.findUser(id);
				if (!before) return publicUser(await this.createUser(ctx, { id, ...fields }));
				if (before.deletedAt) return publicUser(before);
				return this.changed(ctx, before, fields);
			},
		},

		/** Soft delete; the user's vendors are paused and detached. */
		remove: {
			params: { $$strict: true, id: userId },
			async handler(this: UsersThis, ctx: Context<RemoveParams>): Promise<{ id: string; deleted: true }> {
				const before = await this.findUser(ctx.params.id);
				if (!before) throw notFound(ctx.params.id);
				if (!before.deletedAt) {
					// Vendors first: if that fails, the user is still live and a retry does both.
					await ctx.call("vendors.detachOwner", { ownerId: before.id });
					await this.adapter.updateById(before.id, { $set: { deletedAt: new Date().toISOString(), favorites: [] } });
					await this.clearCache();
					await emitDomainEvent(this as never, ctx, "marketplace.user_deleted", { id: before.id }, { userId: before.id });
				}
				return { id: before.id, deleted: true };
			},
		},

		/** Admin / REPL: `call users.setRole --id user_1 --role admin`. */
		setRole: {
			params: { $$strict: true, id: userId, role: { type: "enum", values: [...ROLES] } },
			async handler(this: UsersThis, ctx: Context<SetRoleParams>): Promise<User> {
				return this.changed(ctx, await this.liveUser(ctx.params.id), { role: ctx.params.role });
			},
		},

		/** The first existing, not deleted user among `ids` (in that order), or null. */
		lookup: {
			params: { $$strict: true, ids: { type: "array", items: userId, min: 1, max: 50 } },
			async handler(this: UsersThis, ctx: Context<LookupParams>): Promise<User | null> {
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
		async findUser(this: UsersThis, id: string): Promise<UserDoc | null> {
			const doc = await this.adapter.findById(id);
			return doc ? fromDoc(doc) : null;
		},

		async liveUser(this: UsersThis, id: string): Promise<UserDoc> {
			const doc = await this.findUser(id);
			if (!doc || doc.deletedAt) throw notFound(id);
			return doc;
		},

		/** Inserts a new user; a concurrent first use that won the race is read back instead. */
		async createUser(this: UsersThis, ctx: Context, fields: Partial<User> & { id: string }): Promise<UserDoc> {
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
			await emitDomainEvent(this as never, ctx, "marketplace.user_registered", publicUser(doc), { userId: id });
			return doc;
		},

		/** Adds or removes a favourite atomically; emits `marketplace.user_updated` when the list changed. */
		async setFavorite(this: UsersThis, ctx: Context<unknown, CallerMeta>, vendorId: string, favorite: boolean) {
			const before = await this.liveUser(caller(ctx).id);
			const update = favorite ? { $addToSet: { favorites: vendorId } } : { $pull: { favorites: vendorId } };
			const after = fromDoc(await this.adapter.updateById(before.id, update));
			if (after.favorites.length !== before.favorites.length) {
				await this.clearCache();
				const data = { id: after.id, changes: { favorites: after.favorites }, favorite: { vendorId, added: favorite } };
				await emitDomainEvent(this as never, ctx, "marketplace.user_updated", data, { userId: after.id, vendorId });
			}
			return { favorites: after.favorites };
		},

		/** Applies a change; emits `marketplace.user_updated` with the fields that changed. */
		async changed(this: UsersThis, ctx: Context, before: UserDoc, set: Partial<UserDoc>): Promise<User> {
			const changes = Object.fromEntries(
				Object.entries(set).filter(([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(before[k as keyof UserDoc]))
			);
			if (Object.keys(changes).length === 0) return publicUser(before);
			const user = publicUser(fromDoc(await this.adapter.updateById(before.id, { $set: { ...changes, updatedAt: new Date().toISOString() } })));
			await this.clearCache();
			await emitDomainEvent(this as never, ctx, "marketplace.user_updated", { id: user.id, changes, user }, { userId: user.id });
			return user;
		},
	},
};

export default UsersService;
