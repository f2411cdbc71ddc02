/** Who is calling: the roles a user can have and the caller every gateway puts in `ctx.meta.user`. */

export const ROLES = ["customer", "vendor", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: unknown): value is Role => typeof value === "string" && (ROLES as readonly string[]).includes(value);

/** The authenticated caller. */
export type Caller = { id: string; role: Role };
export type CallerMeta = { user?: Caller | null };

/**
 * Who may call privileged actions (role changes, suspensions, replays, kicks, the writes webhooks
 * make): an admin user, the REPL's operator (`repl:<os user>`), or an engine service acting on a
 * verified outside source (`service:<name>`). Every one is an admin Caller, named for the audit.
 */
export const PRIVILEGED: Role[] = ["admin"];

/** The REPL operator's identity (audited in the events the services emit). */
export const operatorCaller = (osUser: string): Caller => ({ id: `repl:${osUser}`, role: "admin" });

/** The identity an engine service acts as when it applies what a signed webhook said. */
export const serviceCaller = (service: string): Caller => ({ id: `service:${service}`, role: "admin" });
