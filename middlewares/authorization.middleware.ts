import type { Context, Middleware } from "moleculer";
import { forbidden, noToken } from "../lib/errors.ts";
import type { CallerMeta, Role } from "../lib/identity.ts";

/** `owns: "vendor"` checks the `id` param; `{ vendor: "vendorId" }` names another param. */
export type OwnsRule = "vendor" | { vendor: string };

/** The action properties this middleware enforces. */
export type AccessRules = {
	/** "required": anonymous callers get 401. */
	auth?: "required" | "optional";
	/** Only callers with one of these roles (403 otherwise); implies a caller. */
	roles?: Role[];
	/** The vendor named by a param must belong to the caller (or the caller is an admin). */
	owns?: OwnsRule;
};

declare module "moleculer" {
	interface ActionSchema extends AccessRules {}
}

type Next = (ctx: Context) => Promise<unknown>;

/**
 * The one place where `auth`, `roles` and `owns` are enforced. It wraps local actions, so the
 * rules hold whichever gateway, REPL or node the call came from. For `owns`, the checked vendor
 * is left in `ctx.locals.vendor` so the handler need not read it again.
 */
export const AuthorizationMiddleware: Middleware = {
	name: "Authorization",
	localAction(next: Next, action: AccessRules): Next {
		const { auth, roles, owns } = action;
		if (auth !== "required" && !roles && !owns) return next;
		const param = owns === undefined ? undefined : owns === "vendor" ? "id" : owns.vendor;

		return async function authorize(ctx: Context<Record<string, unknown>, CallerMeta>) {
			const user = ctx.meta.user;
			if (!user) throw noToken();
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
		} as Next;
	},
};
