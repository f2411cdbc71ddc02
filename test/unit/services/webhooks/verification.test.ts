import { describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { svixKey, verifySvix } from "../../../../services/webhooks/svix.ts";
import {
	candidateUserIds,
	planRevenueCatEvent,
	revenueCatAuthorized,
	revenueCatBody,
	type RevenueCatEvent,
} from "../../../../services/webhooks/revenuecat.ts";
import { planClerkEvent, clerkEnvelope } from "../../../../services/webhooks/clerk.ts";
import { newWhsec, svixHeaders } from "../../../helpers/webhooks.ts";

describe("Svix signature verification", () => {
	const secret = newWhsec();
	const body = '{"type":"user.created","data":{"id":"user_1"}}';

	it("accepts a signature computed independently over id.timestamp.body with the decoded key", () => {
		const ts = Math.floor(Date.now() / 1000);
		const key = Buffer.from(secret.slice(6), "base64");
		const sig = createHmac("sha256", key).update(`msg_1.${ts}.${body}`).digest("base64");
		const result = verifySvix(secret, { "svix-id": "msg_1", "svix-timestamp": String(ts), "svix-signature": `v1,${sig}` }, body);
		expect(result).toEqual({ ok: true, id: "msg_1", timestamp: ts });
		expect(svixKey(secret)).toEqual(key);
	});

	it("refuses a tampered body, a wrong secret, missing headers and bad timestamps", () => {
		const headers = svixHeaders(body, { secret, id: "msg_2" });
		expect(verifySvix(secret, headers, body.replace("user_1", "user_2"))).toMatchObject({ ok: false, reason: "BAD_SIGNATURE" });
		expect(verifySvix(newWhsec(), headers, body)).toMatchObject({ ok: false, reason: "BAD_SIGNATURE" });
		expect(verifySvix(secret, { ...headers, "svix-signature": undefined }, body)).toMatchObject({ ok: false, reason: "MISSING_HEADERS" });
		expect(verifySvix(secret, { ...headers, "svix-timestamp": "soon" }, body)).toMatchObject({ ok: false, reason: "BAD_TIMESTAMP" });
		const now = Date.now();
		const stale = svixHeaders(body, { secret, timestamp: Math.floor(now / 1000) - 301 });
		const future = svixHeaders(body, { secret, timestamp: Math.floor(now / 1000) + 301 });
		expect(verifySvix(secret, stale, body, now)).toMatchObject({ ok: false, reason: "STALE_TIMESTAMP" });
		expect(verifySvix(secret, future, body, now)).toMatchObject({ ok: false, reason: "FUTURE_TIMESTAMP" });
		const edge = svixHeaders(body, { secret, timestamp: Math.floor(now / 1000) - 299 });
		expect(verifySvix(secret, edge, body, now).ok).toBe(true);
	});

	it("accepts any matching v1 entry, ignores other versions, and reads webhook-* headers", () => {
		const rotated = svixHeaders(body, { secret, extraSignatures: ["v1,AAAAbm90IHRoZSBzaWduYXR1cmU=", "v2,whatever"] });
		expect(verifySvix(secret, rotated, body).ok).toBe(true);
		const good = svixHeaders(body, { secret, id: "msg_3" })["svix-signature"]!;
		const wrongVersion = { ...svixHeaders(body, { secret, id: "msg_3" }), "svix-signature": good.replace("v1,", "v2,") };
		expect(verifySvix(secret, wrongVersion, body).ok).toBe(false);
		expect(verifySvix(secret, svixHeaders(body, { secret, headerPrefix: "webhook" }), body).ok).toBe(true);
	});
});

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

describe("Clerk event mapping", () => {
	it("resolves the primary e-mail and a valid role; ignores an unknown role", () => {
		const event = clerkEnvelope.parse({
			type: "user.updated",
			data: {
				id: "user_1",
				first_name: "Ada",
				last_name: null,
				primary_email_address_id: "e2",
				email_addresses: [
					{ id: "e1", email_address: "old@example.com" },
					{ id: "e2", email_address: "ada@example.com" },
				],
				public_metadata: { role: "admin" },
			},
		});
		expect(planClerkEvent(event)).toEqual({
			kind: "upsert",
			profile: { id: "user_1", email: "ada@example.com", firstName: "Ada", role: "admin" },
		});
		const odd = clerkEnvelope.parse({ type: "user.created", data: { id: "user_2", public_metadata: { role: "root" } } });
		expect(planClerkEvent(odd)).toEqual({ kind: "upsert", profile: { id: "user_2" } });
		expect(planClerkEvent(clerkEnvelope.parse({ type: "user.deleted", data: { id: "user_2", deleted: true } }))).toEqual({
			kind: "delete",
			userId: "user_2",
		});
		expect(planClerkEvent(clerkEnvelope.parse({ type: "session.created", data: {} }))).toEqual({ kind: "record" });
	});

	it("leaves out fields the users service would refuse, so the event still applies", () => {
		const event = clerkEnvelope.parse({
			type: "user.created",
			data: {
				id: "user_3",
				first_name: `  ${"A".repeat(150)}`,
				image_url: "data:image/png;base64,AAAA",
				primary_email_address_id: "e1",
				email_addresses: [{ id: "e1", email_address: "not an e-mail" }],
			},
		});
		expect(planClerkEvent(event)).toEqual({ kind: "upsert", profile: { id: "user_3", firstName: "A".repeat(100) } });
	});
});
