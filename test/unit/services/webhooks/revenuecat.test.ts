import { describe, expect, it } from "vitest";
import { WEBHOOK_CLOCK_SKEW_MS } from "../../../../services/webhooks/contract.ts";
import {
	candidateUserIds,
	planRevenueCatEvent,
	revenueCatAuthorized,
	revenueCatBody,
	type RevenueCatEvent,
} from "../../../../services/webhooks/revenuecat.ts";

describe("RevenueCat authorization", () => {
	it("compares the whole header value", () => {
		expect(revenueCatAuthorized("Bearer s3cret", "Bearer s3cret")).toBe(true);
		expect(revenueCatAuthorized("Bearer s3cret", "Bearer s3cre")).toBe(false);
		expect(revenueCatAuthorized("Bearer s3cret", "bearer s3cret")).toBe(false);
		expect(revenueCatAuthorized("Bearer s3cret", undefined)).toBe(false);
	});
});

describe("RevenueCat event mapping", () => {
	const now = Date.UTC(2026, 0, 10);
	const base = (type: string, extra: Partial<RevenueCatEvent> = {}): RevenueCatEvent =>
		revenueCatBody.parse({
			event: {
				id: "e1",
				type,
				app_user_id: "user_a",
				entitlement_ids: ["pro"],
				expiration_at_ms: now + 86_400_000,
				event_timestamp_ms: now - 1000,
				store: "APP_STORE",
				environment: "SANDBOX",
				...extra,
			},
		}).event;

	it.each([
		"INITIAL_PURCHASE",
		"RENEWAL",
		"UNCANCELLATION",
		"PRODUCT_CHANGE",
		"NON_RENEWING_PURCHASE",
		"SUBSCRIPTION_EXTENDED",
		"TEMPORARY_ENTITLEMENT_GRANT",
	])("%s grants until expiration_at_ms", type => {
		expect(planRevenueCatEvent(base(type), now)).toEqual({
			kind: "set",
			candidates: ["user_a"],
			subscription: {
				active: true,
				entitlements: ["pro"],
				expiresAt: new Date(now + 86_400_000).toISOString(),
				store: "APP_STORE",
				environment: "SANDBOX",
				updatedAt: new Date(now - 1000).toISOString(),
			},
		});
	});

	it.each(["CANCELLATION", "BILLING_ISSUE", "SUBSCRIPTION_PAUSED"])("%s keeps access until expiry, then none", type => {
		expect(planRevenueCatEvent(base(type), now)).toMatchObject({ kind: "set", subscription: { active: true, entitlements: ["pro"] } });
		expect(planRevenueCatEvent(base(type, { expiration_at_ms: now - 1 }), now)).toMatchObject({
			kind: "set",
			subscription: { active: false, entitlements: [] },
		});
	});

	it("EXPIRATION revokes; a grant whose expiry has passed grants nothing; no expiry means lifetime", () => {
		expect(planRevenueCatEvent(base("EXPIRATION"), now)).toMatchObject({ kind: "set", subscription: { active: false, entitlements: [] } });
		expect(planRevenueCatEvent(base("RENEWAL", { expiration_at_ms: now - 5 }), now)).toMatchObject({ subscription: { active: false } });
		expect(
			planRevenueCatEvent(base("NON_RENEWING_PURCHASE", { expiration_at_ms: null, entitlement_ids: null, entitlement_id: "lifetime" }), now)
		).toMatchObject({
			subscription: { active: true, entitlements: ["lifetime"], expiresAt: null },
		});
	});

	it("TRANSFER, TEST and unknown types", () => {
		expect(planRevenueCatEvent(base("TRANSFER", { app_user_id: undefined, transferred_from: ["a"], transferred_to: ["b"] }), now)).toEqual({
			kind: "transfer",
			from: ["a"],
			to: ["b"],
			updatedAt: new Date(now - 1000).toISOString(),
		});
		expect(planRevenueCatEvent(base("TEST"), now)).toEqual({ kind: "record", reason: "test" });
		expect(planRevenueCatEvent(base("SOMETHING_NEW_2027"), now)).toEqual({ kind: "record", reason: "unknown_type" });
	});

	it("does not apply an event dated beyond now + the clock skew (RevenueCat's TRANSFER sample is in the year 4466)", () => {
		const sample = base("TRANSFER", { event_timestamp_ms: 78789789798798, transferred_from: ["a"], transferred_to: ["b"] });
		expect(planRevenueCatEvent(sample, now)).toEqual({ kind: "record", reason: "future_timestamp" });
		expect(planRevenueCatEvent(base("RENEWAL", { event_timestamp_ms: now + WEBHOOK_CLOCK_SKEW_MS + 1 }), now)).toEqual({
			kind: "record",
			reason: "future_timestamp",
		});
		expect(planRevenueCatEvent(base("RENEWAL", { event_timestamp_ms: now + WEBHOOK_CLOCK_SKEW_MS }), now)).toMatchObject({ kind: "set" });
	});

	it("refuses timestamps a Date cannot hold", () => {
		const parsed = revenueCatBody.safeParse({ event: { id: "e", type: "RENEWAL", expiration_at_ms: 1e20 } });
		expect(parsed.success).toBe(false);
	});

	it("looks users up by app_user_id, then original_app_user_id, then aliases", () => {
		const event = base("RENEWAL", {
			app_user_id: "u1",
			original_app_user_id: "user_0",
			aliases: ["u1", "$RCAnonymousID:x", "u2", "bad id"],
		});
		expect(planRevenueCatEvent(event, now)).toMatchObject({ candidates: ["u1", "user_0", "u2"] });
		expect(candidateUserIds(["$RCAnonymousID:abc", null, "user_9"])).toEqual(["user_9"]);
	});
});
