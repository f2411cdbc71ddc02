import type { Context } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { restClient, waitForMarketplaceRoutes } from "../../helpers/rest.ts";

describe("REQUIRE_SUBSCRIPTION=true", () => {
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	const statusEvents: { id: string; status: string; canBroadcast: boolean }[] = [];
	const subscription = (active: boolean, updatedAt: string) => ({
		ownerId: "user_sub",
		subscription: {
			active,
			entitlements: active ? ["pro"] : [],
			expiresAt: null,
			store: "PLAY_STORE",
			environment: "PRODUCTION",
			updatedAt,
		},
	});

	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api,users,vendors,discovery", REQUIRE_SUBSCRIPTION: "true" }, [
			{
				name: "status-listener",
				events: {
					"marketplace.vendor_status_changed"(ctx: Context<{ data: { id: string; status: string; canBroadcast: boolean } }>) {
						statusEvents.push(ctx.params.data);
					},
				},
			},
		]);
		api = restClient(engine.baseUrl);
		await waitForMarketplaceRoutes(engine.baseUrl);
	});
	afterAll(() => engine?.stop());

	it("lets a vendor go live and broadcast only while its subscription is active", async () => {
		const owner = await engine.token("user_sub");
		const vendor = (await api.post("/api/vendors", { name: "Paid Pizza", location: { lat: 40, lng: -3 } }, owner)).body;
		const activate = () => api.post(`/api/vendors/${vendor.id}/status`, { status: "active" }, owner);
		const broadcast = () =>
			engine.broker.call("vendors.authorizeBroadcast", { id: vendor.id }, { meta: { user: { id: "user_sub", role: "vendor" } } });
		const listed = async () => (await api.get("/api/vendors?pageSize=100")).body.rows.some((v: { id: string }) => v.id === vendor.id);

		const refused = await activate();
		expect(refused.status).toBe(403);
		expect(refused.body).toMatchObject({ type: "SUBSCRIPTION_REQUIRED" });

		await engine.broker.call("vendors.setSubscription", subscription(true, "2026-03-01T00:00:00Z"), AS_OPERATOR);
		expect((await activate()).body).toMatchObject({ status: "active", subscription: { active: true, entitlements: ["pro"] } });
		expect(await broadcast()).toMatchObject({ id: vendor.id });
		expect(await listed()).toBe(true);
		expect((await api.get("/api/discovery/nearby?lat=40&lng=-3")).body.rows.map((v: { id: string }) => v.id)).toEqual([vendor.id]);

		await engine.broker.call("vendors.setSubscription", subscription(false, "2026-04-01T00:00:00Z"), AS_OPERATOR);
		await waitFor(() => statusEvents.find(e => e.id === vendor.id && !e.canBroadcast), { what: "canBroadcast false" });
		await expect(broadcast()).rejects.toMatchObject({ code: 403, type: "SUBSCRIPTION_REQUIRED" });
		expect(await listed()).toBe(false);
		expect((await api.get("/api/discovery/nearby?lat=40&lng=-3")).body.rows).toEqual([]);

		// A renewal delivered late (older than the expiry) changes nothing.
		expect(await engine.broker.call("vendors.setSubscription", subscription(true, "2026-03-15T00:00:00Z"), AS_OPERATOR)).toEqual([]);
		await expect(broadcast()).rejects.toMatchObject({ type: "SUBSCRIPTION_REQUIRED" });
	});

	it("keeps the newer of two changes for one owner made at the same moment, in either order, on the owner and every vendor", async () => {
		const state = (active: boolean, updatedAt: string) => ({
			active,
			entitlements: active ? ["pro"] : [],
			expiresAt: null,
			store: "APP_STORE",
			environment: "PRODUCTION",
			updatedAt,
		});
		// A copy each call: the validator converts the dates of the params it is given, in place.
		const set = (ownerId: string, subscription: ReturnType<typeof state>) =>
			engine.broker.call<string[], object>("vendors.setSubscription", { ownerId, subscription: { ...subscription } }, AS_OPERATOR);
		// Each round a fresh owner: first none held (both insert), then one held already (both update).
		for (const [round, [held, newerFirst]] of [
			[false, false],
			[false, true],
			[true, false],
			[true, true],
			[false, false],
			[true, true],
		].entries()) {
			const ownerId = `user_race${round}`;
			const owner = await engine.token(ownerId);
			const vendorIds = await Promise.all(
				["North", "South"].map(async side => (await api.post("/api/vendors", { name: `Race ${side} ${round}` }, owner)).body.id as string)
			);
			if (held) await set(ownerId, state(true, "2026-05-01T00:00:00.000Z"));
			const older = state(true, "2026-05-02T00:00:00.000Z");
			const newer = state(false, "2026-05-02T00:00:00.001Z");
			const [first, second] = newerFirst ? [newer, older] : [older, newer];
			const [a, b] = await Promise.all([set(ownerId, first), set(ownerId, second)]);
			expect((newerFirst ? a : b).sort(), `round ${round}`).toEqual([...vendorIds].sort());

			expect(await engine.broker.call("vendors.getSubscription", { ownerId }), `round ${round}`).toEqual(newer);
			for (const id of vendorIds)
				expect((await api.get(`/api/vendors/${id}`)).body.subscription, `round ${round}`).toEqual({
					active: false,
					entitlements: [],
					expiresAt: null,
				});
		}
		// Marks are compared as ISO strings, which sort as times only with four-digit years.
		await expect(set("user_race0", state(true, "+010000-01-01T00:00:00.000Z"))).rejects.toMatchObject({ code: 422 });
		expect(await engine.broker.call("vendors.getSubscription", { ownerId: "user_race0" })).toMatchObject({ active: false });
	});

	it("lapses at expiresAt even when no EXPIRATION event arrives", async () => {
		const ownerId = "user_lapse";
		const owner = await engine.token(ownerId);
		const vendor = (await api.post("/api/vendors", { name: "Lapsing Lemonade", location: { lat: 41, lng: -4 } }, owner)).body;
		const expiresAt = new Date(Date.now() + 1_500).toISOString();
		await engine.broker.call(
			"vendors.setSubscription",
			{
				ownerId,
				subscription: {
					active: true,
					entitlements: ["pro"],
					expiresAt,
					store: "APP_STORE",
					environment: "PRODUCTION",
					updatedAt: new Date().toISOString(),
				},
			},
			AS_OPERATOR
		);
		expect((await api.post(`/api/vendors/${vendor.id}/status`, { status: "active" }, owner)).status).toBe(200);
		const broadcast = () =>
			engine.broker.call("vendors.authorizeBroadcast", { id: vendor.id }, { meta: { user: { id: ownerId, role: "vendor" } } });
		await expect(broadcast()).resolves.toMatchObject({ id: vendor.id });

		await new Promise(r => setTimeout(r, 1_600));
		await expect(broadcast()).rejects.toMatchObject({ code: 403, type: "SUBSCRIPTION_REQUIRED" });
		expect((await api.get(`/api/vendors/${vendor.id}`)).body.subscription).toMatchObject({ active: false, expiresAt });
		expect((await api.get("/api/discovery/nearby?lat=41&lng=-4")).body.rows).toEqual([]);
	});
});
