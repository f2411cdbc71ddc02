import { randomBytes } from "node:crypto";
import { forbidden } from "../../lib/errors.ts";
import { canBroadcast, MAX_PAGE_SIZE, subscriptionActive, type ProfileParams, type SubscriptionState, type Vendor } from "./contract.ts";

/** As stored: rating kept as sum/count (exact), a version for compare-and-set, soft delete. */
export type VendorDoc = Omit<Vendor, "rating" | "subscription"> & {
	subscription: SubscriptionState;
	ratingSum: number;
	ratingCount: number;
	ratingVersion: number;
	deletedAt: string | null;
};

export const newVendorId = () => `ven_${randomBytes(12).toString("base64url")}`;

export const NO_SUBSCRIPTION: SubscriptionState = {
	active: false,
	entitlements: [],
	expiresAt: null,
	store: null,
	environment: null,
	updatedAt: null,
};

/** A stored document (`_id`) as a VendorDoc (`id`). */
export const fromDoc = (doc: Record<string, unknown>): VendorDoc => {
	const { _id, ...rest } = doc;
	return { id: _id, ...rest } as VendorDoc;
};

/** Fields every vendor has: `null` in a change sets them to these; any other field set to `null` is removed. */
const CLEARED: Record<string, unknown> = { description: "", categories: [] };

/** A profile change as a write: what to set, and the optional fields to remove (`null` in the change). */
export function profileWrite(changes: ProfileParams & { name?: string }): { set: Partial<VendorDoc>; unset: string[] } {
	const set: Record<string, unknown> = {};
	const unset: string[] = [];
	for (const [field, value] of Object.entries(changes)) {
		if (value !== null) set[field] = value;
		else if (field in CLEARED) set[field] = CLEARED[field];
		else unset.push(field);
	}
	return { set: set as Partial<VendorDoc>, unset };
}

/** The fields that are not `null`. */
export function withoutNulls<T extends object>(fields: T): { [K in keyof T]: Exclude<T[K], null> } {
	return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) as { [K in keyof T]: Exclude<T[K], null> };
}

/** Average rounded to two decimals; the stored sum and count are exact. */
export const averageOf = (sum: number, count: number) => (count === 0 ? 0 : Math.round((sum / count) * 100) / 100);

export function toVendor(doc: VendorDoc): Vendor {
	const { ratingSum, ratingCount, ratingVersion: _v, deletedAt: _d, subscription, ...rest } = doc;
	return {
		...rest,
		subscription: {
			active: subscriptionActive(subscription),
			entitlements: subscription.entitlements,
			expiresAt: subscription.expiresAt ?? null,
		},
		rating: { average: averageOf(ratingSum, ratingCount), count: ratingCount },
	};
}

/** Refuses (403) a vendor that may not broadcast now, saying why. */
export function assertMayBroadcast(vendor: Pick<Vendor, "status" | "subscription">, requireSubscription: boolean): void {
	if (vendor.status !== "active") throw forbidden(`Vendor is ${vendor.status}, not active`, "NOT_ACTIVE");
	if (!canBroadcast(vendor, requireSubscription))
		throw forbidden("An active subscription is required to broadcast", "SUBSCRIPTION_REQUIRED");
}

/** The store query of vendors anyone may find: live now (active, and subscribed when that is required). */
export function publicQuery(requireSubscription: boolean, now = Date.now()): Record<string, unknown> {
	if (!requireSubscription) return { deletedAt: null, status: "active" };
	// Under $and, so that it composes with the $or of a text query.
	const unexpired = { $or: [{ "subscription.expiresAt": null }, { "subscription.expiresAt": { $gt: new Date(now).toISOString() } }] };
	return { deletedAt: null, status: "active", "subscription.active": true, $and: [unexpired] };
}

const PHONE = /^\+?[0-9][0-9 ().-]{4,22}[0-9]$/;
const HTTP_URL = /^https?:\/\/[^\s/?#]+\.[^\s]*$|^https?:\/\/localhost(:\d+)?(\/[^\s]*)?$/i;

/**
 * fastest-validator rules of the editable profile (onboarding requires `name`). `null` clears a
 * field (`nullable`): description to "", categories to [], phone, website, imageUrl and location
 * removed; `name` cannot be cleared.
 */
export const profileParams = {
	name: { type: "string", trim: true, min: 1, max: 80 },
	description: { type: "string", trim: true, max: 2000, optional: true, nullable: true },
	categories: {
		type: "array",
		optional: true,
		nullable: true,
		max: 10,
		unique: true,
		items: { type: "string", trim: true, lowercase: true, min: 1, max: 40, pattern: /^[\p{L}\p{N}][\p{L}\p{N} &'-]*$/u },
	},
	phone: {
		type: "string",
		trim: true,
		max: 30,
		pattern: PHONE,
		optional: true,
		nullable: true,
		messages: { stringPattern: "The 'phone' field must be a phone number such as +49 30 1234567." },
	},
	website: {
		type: "string",
		trim: true,
		max: 2048,
		pattern: HTTP_URL,
		optional: true,
		nullable: true,
		messages: { stringPattern: "The 'website' field must be an http(s) URL." },
	},
	imageUrl: {
		type: "string",
		trim: true,
		max: 2048,
		pattern: HTTP_URL,
		optional: true,
		nullable: true,
		messages: { stringPattern: "The 'imageUrl' field must be an http(s) URL." },
	},
	location: {
		type: "object",
		optional: true,
		nullable: true,
		strict: true,
		props: { lat: { type: "number", min: -90, max: 90 }, lng: { type: "number", min: -180, max: 180 } },
	},
} as const;

export const pageParams = {
	page: { type: "number", integer: true, min: 1, max: 10_000, convert: true, optional: true },
	pageSize: { type: "number", integer: true, min: 1, max: MAX_PAGE_SIZE, convert: true, optional: true },
} as const;

/** The fields a text search (`q`) looks in. */
export const TEXT_FIELDS = ["name", "description", "categories"];
