/** Who is calling: the roles a user can have and the caller every gateway puts in `ctx.meta.user`. */

export const ROLES = ["customer", "vendor", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: unknown): value is Role => typeof value === "string" && (ROLES as readonly string[]).includes(value);

/** The authenticated caller. */
export type Caller = { id: string; role: Role };
export type CallerMeta = { user?: Caller | null };
