/** What the users service takes and answers (dependency-free). */
import { ROLES, type Role } from "../../lib/identity.ts";
import { DATE_TIME } from "../../lib/openapi.ts";
import { VENDOR_SCHEMA } from "../vendors/contract.ts";

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

/** User as JSON Schema. */
export const USER_SCHEMA = {
	title: "User",
	type: "object",
	additionalProperties: false,
	required: ["id", "email", "firstName", "lastName", "imageUrl", "role", "favorites", "createdAt", "updatedAt"],
	properties: {
		id: { type: "string" },
		email: { type: ["string", "null"] },
		firstName: { type: ["string", "null"] },
		lastName: { type: ["string", "null"] },
		imageUrl: { type: ["string", "null"] },
		role: { type: "string", enum: ROLES },
		favorites: { type: "array", items: { type: "string" }, description: "Vendor ids." },
		createdAt: DATE_TIME,
		updatedAt: DATE_TIME,
	},
} as const;

/** `GET /api/me/favorites`: the caller's favourite vendors. */
export const FAVORITE_VENDORS_SCHEMA = {
	title: "FavoriteVendors",
	type: "object",
	additionalProperties: false,
	required: ["rows", "total"],
	properties: { rows: { type: "array", items: VENDOR_SCHEMA }, total: { type: "integer", minimum: 0 } },
} as const;

/** What adding or removing a favourite answers: the caller's favourite vendor ids. */
export const FAVORITES_SCHEMA = {
	title: "Favorites",
	type: "object",
	additionalProperties: false,
	required: ["favorites"],
	properties: { favorites: { type: "array", items: { type: "string" } } },
} as const;

export type ResolveParams = { id: string; claims?: Record<string, unknown> };
export type GetParams = { id: string };
/**
 * A Clerk profile: what the webhooks service hands over (fields the users service would refuse are
 * left out). `clerkUpdatedAt` is Clerk's `updated_at` (epoch ms): a profile older than the one
 * applied is not applied; without it the profile applies whatever its age.
 */
export type ClerkProfile = {
	id: string;
	email?: string;
	firstName?: string;
	lastName?: string;
	imageUrl?: string;
	role?: Role;
	clerkUpdatedAt?: number;
};
export type UpsertFromClerkParams = ClerkProfile;
/**
 * What users.upsertFromClerk did: `applied` (the profile is the user's now); `stale` (a newer
 * profile was applied before: nothing changed); `deleted` (the user was deleted and stays so).
 */
export type ClerkUpsertOutcome = "applied" | "stale" | "deleted";
/** The user as stored after the call, and what the call did. */
export type UpsertFromClerkResult = User & { outcome: ClerkUpsertOutcome };
export type RemoveParams = { id: string };
export type SetRoleParams = { id: string; role: Role };
export type LookupParams = { ids: string[] };
export type UpdateMeParams = { firstName?: string | null; lastName?: string | null; imageUrl?: string | null };
export type FavoriteParams = { vendorId: string };

/** Ids users.lookup takes at most. */
export const LOOKUP_MAX = 50;
