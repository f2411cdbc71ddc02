import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "moleculer";
import { z } from "zod";
import { USER_ID } from "../../lib/ids.ts";
import type { SetSubscriptionParams, SubscriptionState } from "../vendors/contract.ts";
import { WEBHOOK_CLOCK_SKEW_MS } from "./contract.ts";
import { applied, skipped, type OwnerChange, type Settled } from "./inbox.ts";

/** RevenueCat webhooks: authorization check, payload shape, and event → subscription state. */

/**
 * True when the Authorization header equals the configured value. Both sides are hashed first so
 * the comparison is constant-time whatever their lengths.
 */
export function revenueCatAuthorized(expected: string, header: string | undefined): boolean {
	if (header === undefined) return false;
	const digest = (s: string) => createHash("sha256").update(s).digest();
	return timingSafeEqual(digest(expected), digest(header));
}

const ids = z.array(z.string()).nullish();
/** Epoch milliseconds that a Date can hold. */
const epochMs = z.number().int().min(0).max(8.64e15).nullish();

/** The fields we use; anything else RevenueCat sends is kept in the recorded payload. */
export const revenueCatBody = z.looseObject({
	api_version: z.string().nullish(),
	event: z.looseObject({
		id: z.string().min(1).max(200),
		type: z.string().min(1).max(100),
		app_user_id: z.string().nullish(),
		original_app_user_id: z.string().nullish(),
		aliases: ids,
		entitlement_id: z.string().nullish(),
		entitlement_ids: ids,
		product_id: z.string().nullish(),
		period_type: z.string().nullish(),
		purchased_at_ms: epochMs,
		expiration_at_ms: epochMs,
		environment: z.string().nullish(),
		store: z.string().nullish(),
		event_timestamp_ms: epochMs,
		transferred_from: ids,
		transferred_to: ids,
	}),
});
export type RevenueCatBody = z.infer<typeof revenueCatBody>;
export type RevenueCatEvent = RevenueCatBody["event"];

/** Grant access until `expiration_at_ms`. */
export const GRANTING_TYPES = [
	"INITIAL_PURCHASE",
	"RENEWAL",
	"UNCANCELLATION",
	"PRODUCT_CHANGE",
	"NON_RENEWING_PURCHASE",
	"SUBSCRIPTION_EXTENDED",
	"TEMPORARY_ENTITLEMENT_GRANT",
] as const;
/** The subscription will end, but access stays until `expiration_at_ms`. */
export const KEEP_UNTIL_EXPIRY_TYPES = ["CANCELLATION", "BILLING_ISSUE", "SUBSCRIPTION_PAUSED"] as const;

export type RevenueCatPlan =
	/** Set the subscription of the first known user among `candidates` (in that order). */
	| { kind: "set"; candidates: string[]; subscription: SubscriptionState }
	/** Move the subscription of the first known user in `from` to the first known user in `to`. */
	| { kind: "transfer"; from: string[]; to: string[]; updatedAt: string }
	/** Nothing to apply: TEST events, types this build does not know and events from the future are only recorded. */
	| { kind: "record"; reason: "test" | "unknown_type" | "future_timestamp" };

const includes = (list: readonly string[], value: string) => list.includes(value);

function iso(ms: number | null | undefined): string | null {
	return typeof ms === "number" && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** Ids RevenueCat generates for users who have not logged in; never one of our users. */
const ANONYMOUS_ID = /^\$RCAnonymousID:/;

/** The user ids an event may belong to, most specific first, without repeats or anonymous ids. */
export function candidateUserIds(ids: (string | null | undefined)[]): string[] {
	return [...new Set(ids.filter((id): id is string => typeof id === "string" && USER_ID.test(id) && !ANONYMOUS_ID.test(id)))];
}

/** The state an owner has after losing access at `updatedAt`. */
export function revokedState(updatedAt: string, store: string | null = null, environment: string | null = null): SubscriptionState {
	return { active: false, entitlements: [], expiresAt: null, store, environment, updatedAt };
}

/**
 * What an event means for subscription state, evaluated at `nowMs` (an expiry already passed grants
 * nothing). `event_timestamp_ms` orders events per owner, so one beyond now + WEBHOOK_CLOCK_SKEW_MS
 * (RevenueCat's own TRANSFER sample is dated in the year 4466) would block every later event: it is
 * not applied.
 */
export function planRevenueCatEvent(event: RevenueCatEvent, nowMs = Date.now()): RevenueCatPlan {
	if ((event.event_timestamp_ms ?? 0) > nowMs + WEBHOOK_CLOCK_SKEW_MS) return { kind: "record", reason: "future_timestamp" };
	const updatedAt = iso(event.event_timestamp_ms) ?? new Date(nowMs).toISOString();
	const store = event.store ?? null;
	const environment = event.environment ?? null;

	if (event.type === "TEST") return { kind: "record", reason: "test" };
	if (event.type === "TRANSFER") {
		return {
			kind: "transfer",
			from: candidateUserIds(event.transferred_from ?? []),
			to: candidateUserIds(event.transferred_to ?? []),
			updatedAt,
		};
	}

	const candidates = candidateUserIds([event.app_user_id, event.original_app_user_id, ...(event.aliases ?? [])]);
	if (event.type === "EXPIRATION") {
		return {
			kind: "set",
			candidates,
			subscription: { ...revokedState(updatedAt, store, environment), expiresAt: iso(event.expiration_at_ms) },
		};
	}
	if (includes(GRANTING_TYPES, event.type) || includes(KEEP_UNTIL_EXPIRY_TYPES, event.type)) {
		const expiresAt = iso(event.expiration_at_ms);
		const active = event.expiration_at_ms == null || event.expiration_at_ms > nowMs;
		const entitlements = active ? (event.entitlement_ids ?? (event.entitlement_id ? [event.entitlement_id] : [])) : [];
		return { kind: "set", candidates, subscription: { active, entitlements, expiresAt, store, environment, updatedAt } };
	}
	return { kind: "record", reason: "unknown_type" };
}

/** How applying a RevenueCat plan finds users, the state a TRANSFER moves, and the ordering mark. */
export type RevenueCatApplyDeps = {
	/** The user an event belongs to among `ids` (see webhooks' ownerOf). */
	ownerOf(ids: string[]): Promise<string | null>;
	/** The newest subscription the inbox applied to `userId`, other than by this event. */
	heldSubscription(userId: string): Promise<SubscriptionState | null>;
	/** `updatedAt` of the subscription stored for `userId` (null: none): an event older than it changes nothing. */
	orderingMark(userId: string): Promise<string | null>;
};

const timeOf = (iso: string | null) => (iso === null ? Number.NEGATIVE_INFINITY : Date.parse(iso));

/**
 * Sets each owner's subscription unless a newer one is stored; the owners it set. (vendors.setSubscription
 * keeps the order too; checking first is what lets the answer say `stale`.)
 */
async function setEach(ctx: Context, deps: RevenueCatApplyDeps, states: [string, SubscriptionState][]) {
	const owners: OwnerChange[] = [];
	for (const [userId, subscription] of states) {
		if (timeOf(await deps.orderingMark(userId)) > timeOf(subscription.updatedAt)) continue;
		const vendorIds = await ctx.call<string[], SetSubscriptionParams>("vendors.setSubscription", { ownerId: userId, subscription });
		owners.push({ userId, subscription, vendorIds });
	}
	return owners;
}

/** Applies a planned RevenueCat event through the vendors service; what it came to, for the inbox. */
export async function applyRevenueCatPlan(ctx: Context, plan: RevenueCatPlan, deps: RevenueCatApplyDeps): Promise<Settled> {
	switch (plan.kind) {
		case "record":
			return skipped(plan.reason);
		case "set": {
			const userId = await deps.ownerOf(plan.candidates);
			if (!userId) return skipped("no_user");
			const owners = await setEach(ctx, deps, [[userId, plan.subscription]]);
			return owners.length > 0 ? applied({ owners }) : skipped("older_than_current", { userId });
		}
		case "transfer": {
			// A TRANSFER carries no entitlements: the receiver gets what the giver held.
			const [from, to] = await Promise.all([deps.ownerOf(plan.from), deps.ownerOf(plan.to)]);
			if (!from) return skipped("no_user", { from, to });
			const held = await deps.heldSubscription(from);
			const states: [string, SubscriptionState][] = [];
			if (to && held) states.push([to, { ...held, updatedAt: plan.updatedAt }]);
			states.push([from, revokedState(plan.updatedAt, held?.store ?? null, held?.environment ?? null)]);
			const owners = await setEach(ctx, deps, states);
			return owners.length > 0 ? applied({ owners, from, to }) : skipped("older_than_current", { from, to });
		}
	}
}
