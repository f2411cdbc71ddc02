/** What the vendors service takes and answers: params, results and limits (dependency-free). */
import { LAT_LNG_SCHEMA, type LatLng } from "../../lib/geo.ts";
import { DATE_TIME, type JsonSchema } from "../../lib/openapi.ts";
import type { PositionInput } from "../../lib/position.ts";
import { VENDOR_LOCATION_SCHEMA, type VendorLocation } from "../geo/contract.ts";

export const VENDOR_STATUSES = ["draft", "active", "paused", "suspended"] as const;
export type VendorStatus = (typeof VENDOR_STATUSES)[number];

/** An owner's subscription as the payment provider last described it. */
export type SubscriptionState = {
	active: boolean;
	entitlements: string[];
	/** ISO-8601; null = no end (lifetime purchase) or unknown. */
	expiresAt: string | null;
	store: string | null;
	environment: string | null;
	/** ISO-8601 of the provider's event that produced this state; older updates are ignored (null: never set). */
	updatedAt: string | null;
};

/** The public shape of a vendor (plus the optional fixed `location` of a stall). */
export type Vendor = {
	id: string;
	ownerId: string | null;
	name: string;
	description: string;
	categories: string[];
	phone?: string;
	website?: string;
	imageUrl?: string;
	location?: LatLng;
	status: VendorStatus;
	subscription: { active: boolean; entitlements: string[]; expiresAt: string | null };
	rating: { average: number; count: number };
	createdAt: string;
	updatedAt: string;
};

const RATING_SCHEMA = {
	type: "object",
	additionalProperties: false,
	required: ["average", "count"],
	properties: { average: { type: "number", minimum: 0, maximum: 5 }, count: { type: "integer", minimum: 0 } },
} as const;

/** Vendor as JSON Schema. */
export const VENDOR_SCHEMA = {
	title: "Vendor",
	type: "object",
	additionalProperties: false,
	required: ["id", "ownerId", "name", "description", "categories", "status", "subscription", "rating", "createdAt", "updatedAt"],
	properties: {
		id: { type: "string" },
		ownerId: { type: ["string", "null"], description: "null once the owner's account is deleted" },
		name: { type: "string" },
		description: { type: "string" },
		categories: { type: "array", items: { type: "string" } },
		phone: { type: "string" },
		website: { type: "string" },
		imageUrl: { type: "string" },
		location: { ...LAT_LNG_SCHEMA, description: "The fixed spot of a stall." },
		status: { type: "string", enum: VENDOR_STATUSES },
		subscription: {
			type: "object",
			additionalProperties: false,
			required: ["active", "entitlements", "expiresAt"],
			properties: {
				active: { type: "boolean" },
				entitlements: { type: "array", items: { type: "string" } },
				expiresAt: { anyOf: [DATE_TIME, { type: "null" }] },
			},
		},
		rating: RATING_SCHEMA,
		createdAt: DATE_TIME,
		updatedAt: DATE_TIME,
	},
} as const;

/** Active and not past its expiry: access lapses at `expiresAt` even if no EXPIRATION event arrives. */
export function subscriptionActive(subscription: { active: boolean; expiresAt?: string | null }, now = Date.now()): boolean {
	return subscription.active && (!subscription.expiresAt || Date.parse(subscription.expiresAt) > now);
}

/** May this vendor broadcast its position (and be found) right now? */
export function canBroadcast(vendor: Pick<Vendor, "status" | "subscription">, requireSubscription: boolean, now = Date.now()): boolean {
	return vendor.status === "active" && (!requireSubscription || subscriptionActive(vendor.subscription, now));
}

export type Page<T> = { rows: T[]; total: number; page: number; pageSize: number; totalPages: number };
/** Page<T> as JSON Schema, named `title`. */
export const pageSchema = (title: string, item: JsonSchema) =>
	({
		title,
		type: "object",
		additionalProperties: false,
		required: ["rows", "total", "page", "pageSize", "totalPages"],
		properties: {
			rows: { type: "array", items: item },
			total: { type: "integer", minimum: 0 },
			page: { type: "integer", minimum: 1 },
			pageSize: { type: "integer", minimum: 1, maximum: MAX_PAGE_SIZE },
			totalPages: { type: "integer", minimum: 0 },
		},
	}) as const;

/** A profile change; `null` clears a field (see profileParams in model.ts). */
export type ProfileParams = {
	description?: string | null;
	categories?: string[] | null;
	phone?: string | null;
	website?: string | null;
	imageUrl?: string | null;
	location?: LatLng | null;
};
export type CreateParams = ProfileParams & { name: string };
export type UpdateParams = ProfileParams & { id: string; name?: string };
export type GetParams = { id: string };
export type GetManyParams = { ids: string[] };
export type ListParams = { owner?: "me"; q?: string; category?: string; status?: VendorStatus; page?: number; pageSize?: number };
export type SetStatusParams = { id: string; status: "active" | "paused" | "suspended" };
export type AuthorizeBroadcastParams = { id: string };
export type DetachOwnerParams = { ownerId: string };
/** Dates as ISO strings (or Dates, from the validator); stored as ISO strings. */
export type SetSubscriptionParams = {
	ownerId: string;
	subscription: Omit<SubscriptionState, "expiresAt" | "updatedAt" | "store" | "environment"> & {
		expiresAt?: string | Date | null;
		updatedAt?: string | Date | null;
		store?: string | null;
		environment?: string | null;
	};
};
export type ReviewsParams = { id: string; page?: number; pageSize?: number };
export type SubmitReviewParams = { id: string; rating: number; text?: string };
export type DiscoverableParams = { ids: string[]; q?: string; category?: string };
export type FixedLocationsParams = { south: number; north: number; west: number; east: number };
export type FixedLocation = LatLng & { vendorId: string };
export type LocationParams = { id: string };
/** `GET /api/vendors/:id/location`: the live position while online, else just `online: false`. */
export type LocationAnswer = VendorLocation | { vendorId: string; online: false };
export const LOCATION_ANSWER_SCHEMA = {
	title: "LocationAnswer",
	oneOf: [
		VENDOR_LOCATION_SCHEMA,
		{
			title: "VendorOffline",
			type: "object",
			additionalProperties: false,
			required: ["vendorId", "online"],
			properties: { vendorId: { type: "string" }, online: { const: false } },
		},
	],
} as const;
export type ReportLocationParams = { id: string } & PositionInput;

/** One review per user per vendor: its id is `<vendorId>:<userId>`. */
export type Review = { id: string; vendorId: string; userId: string; rating: number; text: string; createdAt: string; updatedAt: string };
export const REVIEW_SCHEMA = {
	title: "Review",
	type: "object",
	additionalProperties: false,
	required: ["id", "vendorId", "userId", "rating", "text", "createdAt", "updatedAt"],
	properties: {
		id: { type: "string", description: "`<vendorId>:<userId>`" },
		vendorId: { type: "string" },
		userId: { type: "string" },
		rating: { type: "integer", minimum: 1, maximum: 5 },
		text: { type: "string" },
		createdAt: DATE_TIME,
		updatedAt: DATE_TIME,
	},
} as const;
/** What `POST /api/vendors/:id/reviews` answers: the review and the vendor's rating after it. */
export const SUBMITTED_REVIEW_SCHEMA = {
	title: "SubmittedReview",
	type: "object",
	additionalProperties: false,
	required: ["review", "rating"],
	properties: { review: REVIEW_SCHEMA, rating: RATING_SCHEMA },
} as const;
/** What a delete answers (soft delete). */
export const DELETED_SCHEMA = {
	title: "Deleted",
	type: "object",
	additionalProperties: false,
	required: ["id", "deleted"],
	properties: { id: { type: "string" }, deleted: { const: true } },
} as const;

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
/** Vendors getMany answers at most. */
export const GET_MANY_MAX = 1_000;

/** `marketplace.vendor_status_changed` data. */
export type VendorStatusChanged = {
	id: string;
	ownerId: string | null;
	status: VendorStatus;
	previous: VendorStatus;
	/** Whether the vendor may broadcast now (false: its live socket is closed). */
	canBroadcast: boolean;
	/** Who changed it; null for the system (a webhook). */
	by: { id: string; role: string } | null;
	deleted?: true;
	previousOwnerId?: string | null;
};
