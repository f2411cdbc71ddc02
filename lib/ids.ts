/** The shapes of ids, one definition each: patterns and the fastest-validator rules built on them. */

/** A user id (Clerk `user_…`; dev ids alike): a token subject, the users key. */
export const USER_ID = /^[\w.:@|-]{1,128}$/;

/** A vendor id (onboarding makes `ven_` + 16 base64url characters). */
export const VENDOR_ID = /^[\w-]{1,64}$/;

export const userIdParam = { type: "string", pattern: USER_ID } as const;
export const vendorIdParam = { type: "string", min: 1, max: 64, pattern: VENDOR_ID } as const;

export const isVendorId = (value: unknown): value is string => typeof value === "string" && VENDOR_ID.test(value);

/** An alert or zone id (`alr_` / `zon_` + 16 base64url characters, made by the alerts service). */
export const FENCE_ID = /^(alr|zon)_[\w-]{16}$/;
export const fenceIdParam = { type: "string", pattern: FENCE_ID } as const;
