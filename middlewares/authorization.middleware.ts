import { Errors, type Context, type Middleware } from "moleculer";

export const ROLES = ["customer", "vendor", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller, as every gateway puts it in `ctx.meta.user`. */
export type Caller = { id: string; role: Role };
export type CallerMeta = { user?: Caller | null };

/** `owns: "vendor"` checks the `id` param; `{ vendor: "vendorId" }` names another param. */
export type OwnsRule = "vendor" | { vendor: string };

declare module "moleculer" {
	interface ActionSchema {
		/** "required": anonymous callers get 401. */
		auth?: "required" | "optional";
		/** Only callers with one of these roles (403 otherwise); implies a caller. */
		roles?: Role[];
		/** The vendor named by a param must belong to the caller (or the caller is an admin). */
		owns?: OwnsRule;
	}
}

type GuardedAction = { name?: string; auth?: "required" | "optional"; roles?: Role[]; owns?: OwnsRule };

export const unauthenticated = () => new Errors.MoleculerClientError("A bearer token is required", 401, "NO_TOKEN");
export const forbidden = (message = "Not allowed", type = "FORBIDDEN") => new Errors.MoleculerClientError(message, 403, type);

/**
 * The one place where `auth`, `roles` and `owns` are enforced. It wraps local actions, so the
 * rules hold whichever gateway, REPL or node the call came from. For `owns`, the checked vendor
 * is left in `ctx.locals.vendor` so the handler need not read it again.
 */
export const AuthorizationMiddleware: Middleware = {
	name: "Authorization",
	localAction(next: (ctx: Context) => Promise<unknown>, action: GuardedAction) {
		const { auth, roles, owns } = action;
		if (auth !== "required" && !roles && !owns) return next;
		const param = owns === undefined ? undefined : owns === "vendor" ? "id" : owns.vendor;

		return async function authorize(ctx: Context<Record<string, unknown>, CallerMeta>) {
			const user = ctx.meta.user;
			if (!user) throw unauthenticated();
			if (roles && !roles.includes(user.role)) throw forbidden(`Requires role ${roles.join(" or ")}`);
			if (param) {
				const vendor = await ctx.call<{ ownerId: string | null }, { id: unknown }>(
					"vendors.get",
					{ id: ctx.params[param] },
					{ meta: { $cache: false } }
				);
				if (vendor.ownerId !== user.id && user.role !== "admin") throw forbidden("This vendor is not yours");
				ctx.locals.vendor = vendor;
			}
			return next(ctx);
		};
	},
};
