/** What the vendors service takes and answers: params, results and limits (dependency-free). */
import type { LatLng } from "../../lib/geo.ts";
import type { PositionInput } from "../../lib/position.ts";
import type { VendorLocation } from "../geo/contract.ts";

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

/** Active and not past its expiry: access lapses at `expiresAt` even if no EXPIRATION event arrives. */
export function subscriptionActive(subscription: { active: boolean; expiresAt?: string | null }, now = Date.now()): boolean {
	return subscription.active && (!subscription.expiresAt || Date.parse(subscription.expiresAt) > now);
}

/** May this vendor broadcast its position (and be found) right now? */
export function canBroadcast(vendor: Pick<Vendor, "status" | "subscription">, requireSubscription: boolean, now = Date.now()): boolean {
	return vendor.status === "active" && (!requireSubscription || subscriptionActive(vendor.subscription, now));
}

export type Page<T> = { rows: T[]; total: number; page: number; pageSize: number; totalPages: number };

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
export type ReportLocationParams = { id: string } & PositionInput;

/** One review per user per vendor: its id is `<vendorId>:<userId>`. */
export type Review = { id: string; vendorId: string; userId: string; rating: number; text: string; createdAt: string; updatedAt: string };

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
