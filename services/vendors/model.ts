import { randomBytes } from "node:crypto";

export const VENDOR_STATUSES = ["draft", "active", "paused", "suspended"] as const;
export type VendorStatus = (typeof VENDOR_STATUSES)[number];

export type LatLng = { lat: number; lng: number };

export type Subscription = {
	active: boolean;
	entitlements: string[];
	expiresAt?: string | null;
	store?: string | null;
	environment?: string | null;
	/** When the payment provider produced this state; older updates are ignored. */
	updatedAt?: string | null;
};

/** The public shape of DESIGN.md (plus the optional fixed `location` of a stall). */
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
	subscription: { active: boolean; entitlements: string[]; expiresAt?: string | null };
	rating: { average: number; count: number };
	createdAt: string;
	updatedAt: string;
};

/** As stored: rating kept as sum/count (exact), a version for compare-and-set, soft delete. */
export type VendorDoc = Omit<Vendor, "rating" | "subscription"> & {
	subscription: Subscription;
	ratingSum: number;
	ratingCount: number;
	ratingVersion: number;
	deletedAt: string | null;
};

export const newVendorId = () => `ven_${randomBytes(12).toString("base64url")}`;

/** Average rounded to two decimals; the stored sum and count are exact. */
export const averageOf = (sum: number, count: number) => (count === 0 ? 0 : Math.round((sum / count) * 100) / 100);

export function toVendor(doc: VendorDoc): Vendor {
	const { ratingSum, ratingCount, ratingVersion: _v, deletedAt: _d, subscription, ...rest } = doc;
	return {
		...rest,
		subscription: { active: subscriptionActive(subscription), entitlements: subscription.entitlements, expiresAt: subscription.expiresAt ?? null },
		rating: { average: averageOf(ratingSum, ratingCount), count: ratingCount },
	};
}

/** Active and not past its expiry: access lapses at `expiresAt` even if no EXPIRATION event arrives. */
export function subscriptionActive(subscription: { active: boolean; expiresAt?: string | null }, now = Date.now()): boolean {
	return subscription.active && (!subscription.expiresAt || Date.parse(subscription.expiresAt) > now);
}

/** May this vendor broadcast its position right now? */
export function canBroadcast(vendor: Pick<Vendor, "status" | "subscription">, requireSubscription: boolean): boolean {
	return vendor.status === "active" && (!requireSubscription || subscriptionActive(vendor.subscription));
}

const PHONE = /^\+?[0-9][0-9 ().-]{4,22}[0-9]$/;
const HTTP_URL = /^https?:\/\/[^\s/?#]+\.[^\s]*$|^https?:\/\/localhost(:\d+)?(\/[^\s]*)?$/i;

/** fastest-validator rules of the editable profile (onboarding requires `name`). */
export const profileParams = {
	name: { type: "string", trim: true, min: 1, max: 80 },
	description: { type: "string", trim: true, max: 2000, optional: true },
	categories: {
		type: "array",
		optional: true,
		max: 10,
		unique: true,
		items: { type: "string", trim: true, lowercase: true, min: 1, max: 40, pattern: /^[\p{L}\p{N}][\p{L}\p{N} &'-]*$/u },
	},
	phone: { type: "string", trim: true, max: 30, pattern: PHONE, optional: true, messages: { stringPattern: "The 'phone' field must be a phone number such as +49 30 1234567." } },
	website: { type: "string", trim: true, max: 2048, pattern: HTTP_URL, optional: true, messages: { stringPattern: "The 'website' field must be an http(s) URL." } },
	imageUrl: { type: "string", trim: true, max: 2048, pattern: HTTP_URL, optional: true, messages: { stringPattern: "The 'imageUrl' field must be an http(s) URL." } },
	location: {
		type: "object",
		optional: true,
		nullable: true,
		strict: true,
		props: { lat: { type: "number", min: -90, max: 90 }, lng: { type: "number", min: -180, max: 180 } },
	},
} as const;

export const vendorIdParam = { type: "string", min: 1, max: 64, pattern: /^[\w-]+$/ } as const;
