import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes, randomUUID } from "node:crypto";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { eventRecorder } from "../../helpers/event-recorder.ts";
import { MONGO_URL, post, revenueCatEvent, storeEnv, type StoreKind } from "../../helpers/webhooks.ts";
import type { InboxEntry } from "../../../services/webhooks/contract.ts";

const newUserId = () => `user_${randomUUID().replace(/-/g, "").slice(0, 20)}`;
const DAY = 86_400_000;

type VendorView = {
	id: string;
	ownerId: string | null;
	status: string;
	subscription: { active: boolean; entitlements: string[]; expiresAt: string | null };
};

function revenueCatSuite(store: StoreKind) {
	const authorization = `Bearer rc_${randomBytes(18).toString("base64url")}`;
	const recorder = eventRecorder(["payments.subscription_changed", "marketplace.vendor_status_changed", "communication.webhook_received"]);
	let engine: TestEngine;
	let url: string;

	/** `auth: null` sends no Authorization header. */
	const deliver = (event: Record<string, unknown>, auth: string | null = authorization) =>
		post(url, revenueCatEvent(event), { "content-type": "application/json", ...(auth === null ? {} : { authorization: auth }) });
	const vendor = (id: string) => engine.broker.call<VendorView, { id: string }>("vendors.get", { id });
	const inbox = (): Promise<InboxEntry[]> => engine.broker.call("webhooks.inbox", { source: "revenuecat", limit: 500 }, AS_OPERATOR);

	/** A signed-in user with a draft vendor, through the REST API. */
	async function vendorOwner(): Promise<{ userId: string; vendorId: string; headers: Record<string, string> }> {
		const userId = newUserId();
		const headers = { Authorization: `Bearer ${await engine.token(userId)}`, "Content-Type": "application/json" };
		const res = await fetch(`${engine.baseUrl}/api/vendors`, {
			method: "POST",
			headers,
			body: JSON.stringify({ name: `Stall ${userId.slice(-4)}` }),
		});
		expect(res.status).toBe(201);
		return { userId, vendorId: ((await res.json()) as { id: string }).id, headers };
	}
	const goLive = (o: { vendorId: string; headers: Record<string, string> }) =>
		fetch(`${engine.baseUrl}/api/vendors/${o.vendorId}/status`, {
			method: "POST",
			headers: o.headers,
			body: JSON.stringify({ status: "active" }),
		});

	beforeAll(async () => {
		engine = await startTestEngine(
			{
				SERVICES: "api,users,vendors,webhooks",
				REVENUECAT_WEBHOOK_AUTH: authorization,
				REQUIRE_SUBSCRIPTION: "true",
				...storeEnv(store, "wh-rc"),
			},
			[recorder.schema]
		);
		url = `${engine.baseUrl}/webhooks/revenuecat`;
		await waitFor(async () => (await fetch(`${engine.baseUrl}/api/vendors`)).status !== 404, { what: "REST aliases" });
	});
	afterAll(() => engine?.stop());

	it("refuses a wrong or missing Authorization header with 401 and records nothing", async () => {
		const owner = await vendorOwner();
		for (const auth of [null, "Bearer wrong", authorization.slice(0, -1), `${authorization}x`, authorization.toLowerCase()]) {
			const res = await deliver(
				{ type: "INITIAL_PURCHASE", app_user_id: owner.userId, entitlement_ids: ["pro"], expiration_at_ms: Date.now() + DAY },
				auth
			);
			expect(res.status, String(auth)).toBe(401);
			expect(res.json.type).toBe("UNAUTHORIZED");
		}
		expect((await vendor(owner.vendorId)).subscription.active).toBe(false);
		expect(await inbox()).toEqual([]);
	});

	it("follows INITIAL_PURCHASE → RENEWAL → CANCELLATION → EXPIRATION on the vendor", async () => {
		const owner = await vendorOwner();
		expect((await goLive(owner)).status).toBe(403);

		const t0 = Date.now() - 60_000;
		const bought = await deliver({
			type: "INITIAL_PURCHASE",
			app_user_id: owner.userId,
			entitlement_ids: ["vendor_pro"],
			product_id: "monthly",
			period_type: "NORMAL",
			purchased_at_ms: t0,
			expiration_at_ms: t0 + 30 * DAY,
			event_timestamp_ms: t0,
		});
		expect(bought.status).toBe(200);
		expect(bought.json).toMatchObject({ received: true, type: "INITIAL_PURCHASE", status: "applied", duplicate: false });
		expect((await vendor(owner.vendorId)).subscription).toEqual({
			active: true,
			entitlements: ["vendor_pro"],
			expiresAt: new Date(t0 + 30 * DAY).toISOString(),
		});
		expect((await goLive(owner)).status).toBe(200);

		const renewed = await deliver({
			type: "RENEWAL",
			app_user_id: owner.userId,
			entitlement_ids: ["vendor_pro"],
			expiration_at_ms: t0 + 60 * DAY,
			event_timestamp_ms: t0 + 1000,
		});
		expect(renewed.status).toBe(200);
		expect((await vendor(owner.vendorId)).subscription).toMatchObject({ active: true, expiresAt: new Date(t0 + 60 * DAY).toISOString() });

		const cancelled = await deliver({
			type: "CANCELLATION",
			app_user_id: owner.userId,
			entitlement_ids: ["vendor_pro"],
			expiration_at_ms: t0 + 60 * DAY,
			event_timestamp_ms: t0 + 2000,
			cancel_reason: "UNSUBSCRIBE",
		});
		expect(cancelled.status).toBe(200);
		expect(await vendor(owner.vendorId)).toMatchObject({ status: "active", subscription: { active: true } });

		const expired = await deliver({
			type: "EXPIRATION",
			app_user_id: owner.userId,
			entitlement_ids: ["vendor_pro"],
			expiration_at_ms: t0 + 3000,
			event_timestamp_ms: t0 + 3000,
			expiration_reason: "UNSUBSCRIBE",
		});
		expect(expired.status).toBe(200);
		expect((await vendor(owner.vendorId)).subscription).toMatchObject({ active: false, entitlements: [] });

		// Broadcasting stops: the live gateway is told, and a new socket is refused.
		const change = await waitFor(() =>
			recorder.named("marketplace.vendor_status_changed").find(e => e.data.id === owner.vendorId && e.data.canBroadcast === false)
		);
		expect(change.data).toMatchObject({ ownerId: owner.userId, status: "active" });
		await expect(
			engine.broker.call("vendors.authorizeBroadcast", { id: owner.vendorId }, { meta: { user: { id: owner.userId, role: "vendor" } } })
		).rejects.toMatchObject({
			code: 403,
			type: "SUBSCRIPTION_REQUIRED",
		});
		const changes = recorder.named("payments.subscription_changed").filter(e => e.context.userId === owner.userId);
		expect(changes.map(e => e.data.subscription.active)).toEqual([true, true, true, false]);
	});

	it("answers stale for an event older than the last applied one, and does not roll state back", async () => {
		const owner = await vendorOwner();
		const t0 = Date.now() - 60_000;
		await deliver({
			type: "INITIAL_PURCHASE",
			app_user_id: owner.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: t0 + 30 * DAY,
			event_timestamp_ms: t0,
		});
		const expired = await deliver({
			type: "EXPIRATION",
			app_user_id: owner.userId,
			expiration_at_ms: t0 + 5000,
			event_timestamp_ms: t0 + 5000,
		});
		expect(expired.status).toBe(200);
		const late = await deliver({
			type: "RENEWAL",
			app_user_id: owner.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: t0 + 60 * DAY,
			event_timestamp_ms: t0 + 1000,
		});
		expect(late.status).toBe(200);
		expect(late.json).toMatchObject({ type: "RENEWAL", status: "stale", reason: "older_than_current", duplicate: false });
		expect((await inbox()).find(e => e.id === late.json.id)).toMatchObject({
			status: "stale",
			reason: "older_than_current",
			result: { userId: owner.userId },
		});
		expect((await vendor(owner.vendorId)).subscription.active).toBe(false);
		expect(recorder.named("payments.subscription_changed").filter(e => e.context.userId === owner.userId)).toHaveLength(2);

		const newer = await deliver({
			type: "UNCANCELLATION",
			app_user_id: owner.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: t0 + 60 * DAY,
			event_timestamp_ms: t0 + 9000,
		});
		expect(newer.status).toBe(200);
		expect(newer.json).toMatchObject({ status: "applied", reason: null });
		expect((await vendor(owner.vendorId)).subscription.active).toBe(true);
	});

	it("applies the newest of several events for one owner delivered at the same moment, in any order", async () => {
		// Six events a millisecond apart, granting and revoking in turn; the newest revokes.
		const events = (userId: string, t0: number) =>
			[0, 1, 2, 3, 4, 5].map(i =>
				i % 2 === 0
					? { type: "RENEWAL", app_user_id: userId, entitlement_ids: ["pro"], expiration_at_ms: t0 + DAY, event_timestamp_ms: t0 + i }
					: { type: "EXPIRATION", app_user_id: userId, expiration_at_ms: t0 + i, event_timestamp_ms: t0 + i }
			);
		for (const order of [
			[0, 1, 2, 3, 4, 5],
			[5, 4, 3, 2, 1, 0],
			[2, 5, 0, 3, 1, 4],
			[5, 0, 4, 1, 3, 2],
		]) {
			const owner = await vendorOwner();
			const t0 = Date.now() - 60_000;
			const all = events(owner.userId, t0);
			const answers = await Promise.all(order.map(i => deliver(all[i]!)));
			expect(answers.map(a => a.status)).toEqual(order.map(() => 200));
			expect(answers[order.indexOf(5)]!.json, String(order)).toMatchObject({ status: "applied" });

			expect(await engine.broker.call("vendors.getSubscription", { ownerId: owner.userId }), String(order)).toMatchObject({
				active: false,
				updatedAt: new Date(t0 + 5).toISOString(),
			});
			expect((await vendor(owner.vendorId)).subscription, String(order)).toEqual({
				active: false,
				entitlements: [],
				expiresAt: new Date(t0 + 5).toISOString(),
			});
		}
	});

	it("ignores RevenueCat's own TRANSFER sample (dated in the year 4466); later real events for both users apply", async () => {
		const giver = await vendorOwner();
		const taker = await vendorOwner();
		const t0 = Date.now() - 60_000;
		const bought = await deliver({
			type: "INITIAL_PURCHASE",
			app_user_id: giver.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: t0 + 30 * DAY,
			event_timestamp_ms: t0,
		});
		expect(bought.json).toMatchObject({ status: "applied" });

		// The documented sample as RevenueCat publishes it, with our two users' ids.
		const sample = await deliver({
			app_id: "1234567890",
			event_timestamp_ms: 78789789798798,
			store: "APP_STORE",
			transferred_from: [giver.userId],
			transferred_to: [taker.userId],
			type: "TRANSFER",
			environment: "PRODUCTION",
		});
		expect(new Date(78789789798798).getUTCFullYear()).toBe(4466);
		expect(sample.status).toBe(200);
		expect(sample.json).toMatchObject({ type: "TRANSFER", status: "ignored", reason: "future_timestamp", duplicate: false });
		expect((await inbox()).find(e => e.id === sample.json.id)).toMatchObject({
			status: "ignored",
			reason: "future_timestamp",
			result: null,
		});
		// Neither owner's ordering mark moved.
		const mark = (ownerId: string) =>
			engine.broker.call<{ updatedAt: string } | null, { ownerId: string }>("vendors.getSubscription", { ownerId });
		expect(await mark(giver.userId)).toMatchObject({ active: true, updatedAt: new Date(t0).toISOString() });
		expect(await mark(taker.userId)).toBeNull();

		const purchase = await deliver({
			type: "INITIAL_PURCHASE",
			app_user_id: taker.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: Date.now() + 30 * DAY,
			event_timestamp_ms: Date.now(),
		});
		expect(purchase.json).toMatchObject({ status: "applied", reason: null });
		expect((await vendor(taker.vendorId)).subscription).toMatchObject({ active: true, entitlements: ["pro"] });

		const expired = await deliver({ type: "EXPIRATION", app_user_id: giver.userId, event_timestamp_ms: Date.now() });
		expect(expired.json).toMatchObject({ status: "applied" });
		expect((await vendor(giver.vendorId)).subscription.active).toBe(false);
	});

	it("finds the user through original_app_user_id or aliases when app_user_id is anonymous", async () => {
		const owner = await vendorOwner();
		const res = await deliver({
			type: "INITIAL_PURCHASE",
			app_user_id: `$RCAnonymousID:${randomUUID()}`,
			original_app_user_id: `$RCAnonymousID:${randomUUID()}`,
			aliases: ["someone_else", owner.userId],
			entitlement_ids: ["pro"],
			expiration_at_ms: Date.now() + DAY,
		});
		expect(res.status).toBe(200);
		expect((await vendor(owner.vendorId)).subscription.active).toBe(true);
	});

	it("TRANSFER moves the subscription from transferred_from to transferred_to", async () => {
		const giver = await vendorOwner();
		const taker = await vendorOwner();
		const expiresAt = Date.now() + 10 * DAY;
		await deliver({
			type: "INITIAL_PURCHASE",
			app_user_id: giver.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: expiresAt,
			event_timestamp_ms: Date.now() - 5000,
		});
		expect((await vendor(giver.vendorId)).subscription.active).toBe(true);

		const res = await deliver({
			type: "TRANSFER",
			transferred_from: [giver.userId],
			transferred_to: [taker.userId],
			event_timestamp_ms: Date.now(),
		});
		expect(res.status).toBe(200);
		expect((await vendor(taker.vendorId)).subscription).toEqual({
			active: true,
			entitlements: ["pro"],
			expiresAt: new Date(expiresAt).toISOString(),
		});
		expect((await vendor(giver.vendorId)).subscription).toMatchObject({ active: false, entitlements: [] });
	});

	it("records and acknowledges TEST, unknown types and anonymous-only events as ignored", async () => {
		const owner = await vendorOwner();
		const test = await deliver({ type: "TEST", app_user_id: owner.userId, entitlement_ids: ["pro"], expiration_at_ms: Date.now() + DAY });
		const unknown = await deliver({
			type: "SOMETHING_INTRODUCED_LATER",
			app_user_id: owner.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: Date.now() + DAY,
		});
		const anonymous = await deliver({
			type: "INITIAL_PURCHASE",
			app_user_id: `$RCAnonymousID:${randomUUID()}`,
			entitlement_ids: ["pro"],
			expiration_at_ms: Date.now() + DAY,
		});
		expect([test.status, unknown.status, anonymous.status]).toEqual([200, 200, 200]);
		expect([test.json, unknown.json, anonymous.json]).toMatchObject([
			{ status: "ignored", reason: "test" },
			{ status: "ignored", reason: "unknown_type" },
			{ status: "ignored", reason: "no_user" },
		]);
		const entries = await inbox();
		expect(entries.find(e => e.id === test.json.id)).toMatchObject({ type: "TEST", status: "ignored", reason: "test", result: null });
		expect(entries.find(e => e.id === unknown.json.id)).toMatchObject({
			type: "SOMETHING_INTRODUCED_LATER",
			status: "ignored",
			reason: "unknown_type",
		});
		expect((await vendor(owner.vendorId)).subscription.active).toBe(false);
	});

	it("acknowledges a repeat of the same event.id without applying it again", async () => {
		const owner = await vendorOwner();
		const body = revenueCatEvent({
			type: "INITIAL_PURCHASE",
			app_user_id: owner.userId,
			entitlement_ids: ["pro"],
			expiration_at_ms: Date.now() + DAY,
		});
		const headers = { "content-type": "application/json", authorization };
		const results = await Promise.all([post(url, body, headers), post(url, body, headers), post(url, body, headers)]);
		expect(results.map(r => r.status)).toEqual([200, 200, 200]);
		expect(results.filter(r => !r.json.duplicate)).toHaveLength(1);
		await new Promise(r => setTimeout(r, 100));
		expect(recorder.named("payments.subscription_changed").filter(e => e.context.userId === owner.userId)).toHaveLength(1);
	});

	it("answers 400 for malformed JSON and 422 for an event without id or type", async () => {
		const headers = { "content-type": "application/json", authorization };
		expect((await post(url, '{"event":', headers)).status).toBe(400);
		const missing = await post(url, JSON.stringify({ event: { type: "RENEWAL" } }), headers);
		expect(missing.status).toBe(422);
		expect(missing.json).toMatchObject({ type: "VALIDATION_ERROR", data: { fields: ["event.id"] } });
		expect((await post(url, '{"event":', { "content-type": "application/json" })).status).toBe(401);
	});
}

describe("POST /webhooks/revenuecat (REQUIRE_SUBSCRIPTION=true) on the embedded store", () => revenueCatSuite("embedded"));
describe.skipIf(!MONGO_URL)("POST /webhooks/revenuecat (REQUIRE_SUBSCRIPTION=true) on Mongo", () => revenueCatSuite("mongo"));
