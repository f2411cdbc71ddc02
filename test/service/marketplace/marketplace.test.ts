import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import type { Context, ServiceSchema } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AS_OPERATOR, startTestEngine, uniqueNamespace, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { restClient, waitForMarketplaceRoutes } from "../../helpers/rest.ts";

const MARKETPLACE = "api,users,vendors,discovery";
const mongoUrl = process.env.MONGO_URL;
if (!mongoUrl) console.log("skipped: MONGO_URL not set");

/** Each engine on Mongo gets a database of its own. */
function storeEnv(store: "embedded" | "mongo", label: string): Record<string, string> {
	if (store === "embedded") return {};
	const url = new URL(mongoUrl!);
	url.pathname = `/${uniqueNamespace(`venta-${label}`)}`;
	return { MONGO_URL: url.toString() };
}

type Seen = { name: string; payload: any };

/** A test service on the same broker that records every domain event it hears. */
function eventRecorder(seen: Seen[]): ServiceSchema {
	const record = (ctx: Context) => void seen.push({ name: ctx.eventName!, payload: ctx.params });
	return { name: "event-recorder", events: { "marketplace.**": record, "payments.**": record } };
}

function marketplaceSuite(store: "embedded" | "mongo") {
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	const seen: Seen[] = [];
	const tokens: Record<string, string> = {};
	const token = async (sub: string) => (tokens[sub] ??= await engine.token(sub));
	const onboard = async (owner: string, body: object = { name: "Taco Truck" }) => {
		const res = await api.post("/api/vendors", body, await token(owner));
		expect(res.status).toBe(201);
		return res.body;
	};
	const activate = async (owner: string, id: string) =>
		expect((await api.post(`/api/vendors/${id}/status`, { status: "active" }, await token(owner))).status).toBe(200);
	const eventsFor = (name: string, vendorId: string) => seen.filter(e => e.name === name && e.payload.context.vendorId === vendorId);

	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: MARKETPLACE, ...storeEnv(store, "suite") }, [eventRecorder(seen)]);
		api = restClient(engine.baseUrl);
		await waitForMarketplaceRoutes(engine.baseUrl);
	});
	afterAll(() => engine?.stop());

	it("onboards a vendor owned by the caller, who becomes a vendor, and emits the event with the envelope", async () => {
		const res = await api.request("POST", "/api/vendors", {
			token: await token("user_owner"),
			headers: { "X-Request-ID": "req-onboard-1" },
			body: {
				name: "Taco Truck",
				description: "Best al pastor",
				categories: ["Tacos", "mexican"],
				phone: "+49 30 1234567",
				website: "https://tacos.example",
			},
		});
		expect(res.status).toBe(201);
		expect(res.headers.get("location")).toBe(`/api/vendors/${res.body.id}`);
		expect(res.body).toMatchObject({
			ownerId: "user_owner",
			name: "Taco Truck",
			categories: ["tacos", "mexican"],
			status: "draft",
			subscription: { active: false, entitlements: [] },
			rating: { average: 0, count: 0 },
		});
		expect((await api.get("/api/me", await token("user_owner"))).body).toMatchObject({ id: "user_owner", role: "vendor" });

		const event = await waitFor(() => eventsFor("marketplace.vendor_onboarded", res.body.id)[0], { what: "vendor_onboarded" });
		expect(event.payload).toMatchObject({
			context: { vendorId: res.body.id, userId: "user_owner" },
			meta: {
				source: expect.stringMatching(/^vendors@/),
				version: 1,
				correlationId: "req-onboard-1",
				domain: "marketplace",
				subdomain: "vendor",
			},
			data: { id: res.body.id, name: "Taco Truck" },
		});
		expect(event.payload.meta.eventId).toMatch(/^[0-9a-f-]{36}$/);
		expect(Date.parse(event.payload.meta.timestamp)).not.toBeNaN();
		expect(seen.some(e => e.name === "marketplace.user_registered" && e.payload.context.userId === "user_owner")).toBe(true);
	});

	it("lets anyone read a vendor; only the owner edits it", async () => {
		const vendor = await onboard("user_owner");
		const anonymous = await api.get(`/api/vendors/${vendor.id}`);
		expect(anonymous.status).toBe(200);
		expect(anonymous.body).toEqual(vendor);

		const edited = await api.patch(
			`/api/vendors/${vendor.id}`,
			{ name: "Taco Palace", location: { lat: 52.52, lng: 13.405 } },
			await token("user_owner")
		);
		expect(edited.status).toBe(200);
		expect(edited.body).toMatchObject({ name: "Taco Palace", location: { lat: 52.52, lng: 13.405 } });
		// The read above was cached; the write cleaned it.
		expect((await api.get(`/api/vendors/${vendor.id}`)).body.name).toBe("Taco Palace");
		expect(eventsFor("marketplace.vendor_updated", vendor.id)[0]?.payload.data.changes).toEqual({
			name: "Taco Palace",
			location: { lat: 52.52, lng: 13.405 },
		});

		const other = await api.patch(`/api/vendors/${vendor.id}`, { name: "Stolen" }, await token("user_other"));
		expect(other.status).toBe(403);
		expect(other.body).toMatchObject({ code: 403, type: "FORBIDDEN" });
		const anon = await api.patch(`/api/vendors/${vendor.id}`, { name: "Stolen" });
		expect(anon.status).toBe(401);
		expect(anon.body).toMatchObject({ code: 401, type: "NO_TOKEN" });
		expect((await api.get(`/api/vendors/${vendor.id}`)).body.name).toBe("Taco Palace");
		expect((await api.get("/api/vendors/ven_missing")).status).toBe(404);
		// `location: null` turns a stall back into a vendor without a fixed place.
		expect((await api.patch(`/api/vendors/${vendor.id}`, { location: null }, await token("user_owner"))).body.location).toBeUndefined();
	});

	it("refuses forged, expired, unsigned and malformed tokens with 401", async () => {
		const vendor = await onboard("user_owner");
		const forged = await new SignJWT({})
			.setProtectedHeader({ alg: "HS256" })
			.setSubject("user_owner")
			.setExpirationTime("1h")
			.sign(new TextEncoder().encode("x".repeat(40)));
		const expired = await engine.token("user_owner", -60);
		const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "user_owner", exp: 9_999_999_999 })).toString("base64url")}.`;
		for (const [bad, type] of [
			[forged, "INVALID_TOKEN"],
			[expired, "TOKEN_EXPIRED"],
			[unsigned, "INVALID_TOKEN"],
			["not-a-jwt", "INVALID_TOKEN"],
		] as const) {
			const res = await api.patch(`/api/vendors/${vendor.id}`, { name: "Hacked" }, bad);
			expect(res.status, bad).toBe(401);
			expect(res.body).toMatchObject({ name: "MoleculerClientError", code: 401, type });
			expect((await api.get("/api/me", bad)).status).toBe(401);
		}
		expect((await api.get(`/api/vendors/${vendor.id}`)).body.name).toBe("Taco Truck");
	});

	it("answers invalid bodies with 422 naming the fields, and writes nothing", async () => {
		const vendor = await onboard("user_owner", { name: "Stall", categories: ["fruit"] });
		const owner = await token("user_owner");
		const cases: [object, string[]][] = [
			[{ name: "ok", isAdmin: true }, [""]],
			[{ name: 42 }, ["name"]],
			[{ name: "x".repeat(81) }, ["name"]],
			[{ description: "d".repeat(2001) }, ["description"]],
			[{ website: "javascript:alert(1)" }, ["website"]],
			[{ imageUrl: "not a url" }, ["imageUrl"]],
			[{ phone: "call me maybe" }, ["phone"]],
			[{ categories: "fruit" }, ["categories"]],
			[{ categories: Array.from({ length: 11 }, (_, i) => `c${i}`) }, ["categories"]],
			[{ location: { lat: 91, lng: 0 } }, ["location.lat"]],
			[{ location: { lat: 10, lng: 10, alt: 3 } }, ["location"]],
			[{}, ["body"]],
		];
		for (const [body, fields] of cases) {
			const res = await api.patch(`/api/vendors/${vendor.id}`, body, owner);
			expect(res.status, JSON.stringify(body)).toBe(422);
			expect(res.body).toMatchObject({ name: "ValidationError", code: 422, type: "VALIDATION_ERROR" });
			expect(res.body.data.map((d: { field: string }) => d.field ?? "")).toEqual(expect.arrayContaining(fields));
		}
		const onboarding = await api.post("/api/vendors", { description: "no name" }, owner);
		expect(onboarding.status).toBe(422);
		expect(onboarding.body.data[0].field).toBe("name");

		const invalidJson = await api.request("PATCH", `/api/vendors/${vendor.id}`, { token: owner, raw: '{"name": "broken' });
		expect(invalidJson.status).toBe(400);
		expect(invalidJson.body).toMatchObject({ name: "BadRequestError", code: 400, type: "INVALID_JSON" });
		const tooLarge = await api.request("PATCH", `/api/vendors/${vendor.id}`, {
			token: owner,
			raw: JSON.stringify({ description: "x".repeat(300_000) }),
		});
		expect(tooLarge.status).toBe(413);
		expect(tooLarge.body).toMatchObject({ name: "PayloadTooLargeError", code: 413, type: "PAYLOAD_TOO_LARGE" });

		expect((await api.get(`/api/vendors/${vendor.id}`)).body).toEqual(vendor);
		expect(eventsFor("marketplace.vendor_updated", vendor.id)).toHaveLength(0);
	});

	it("moves through draft → active ⇄ paused; only an admin suspends", async () => {
		const vendor = await onboard("user_owner");
		const owner = await token("user_owner");
		const status = (s: string, t = owner) => api.post(`/api/vendors/${vendor.id}/status`, { status: s }, t);

		expect((await status("paused")).status).toBe(409);
		expect((await status("active")).body.status).toBe("active");
		expect((await status("paused")).body.status).toBe("paused");
		expect((await status("active")).body.status).toBe("active");
		expect((await status("suspended")).status).toBe(403);
		expect((await status("draft")).status).toBe(422);
		expect((await api.post(`/api/vendors/${vendor.id}/status`, { status: "active" }, await token("user_other"))).status).toBe(403);

		await engine.broker.call("users.resolve", { id: "user_admin" });
		await engine.broker.call("users.setRole", { id: "user_admin", role: "admin" }, AS_OPERATOR);
		const admin = await token("user_admin");
		expect((await status("suspended", admin)).body.status).toBe("suspended");
		expect((await status("active")).status).toBe(403);
		expect((await status("active", admin)).body.status).toBe("active");

		const changes = eventsFor("marketplace.vendor_status_changed", vendor.id).map(e => e.payload.data);
		expect(changes.map(c => [c.previous, c.status, c.canBroadcast])).toEqual([
			["draft", "active", true],
			["active", "paused", false],
			["paused", "active", true],
			["active", "suspended", false],
			["suspended", "active", true],
		]);
	});

	it("enforces the same rules for calls from any node, not only REST", async () => {
		const vendor = await onboard("user_owner");
		const as = (id: string, role = "customer") => ({ meta: { user: { id, role } } });
		await expect(engine.broker.call("vendors.update", { id: vendor.id, name: "x" })).rejects.toMatchObject({ code: 401, type: "NO_TOKEN" });
		await expect(engine.broker.call("vendors.update", { id: vendor.id, name: "x" }, as("user_other"))).rejects.toMatchObject({
			code: 403,
			type: "FORBIDDEN",
		});
		await expect(engine.broker.call("vendors.authorizeBroadcast", { id: vendor.id }, as("user_owner", "vendor"))).rejects.toMatchObject({
			code: 403,
			type: "NOT_ACTIVE",
		});
		await expect(engine.broker.call("vendors.authorizeBroadcast", { id: "ven_nope" }, as("user_owner", "vendor"))).rejects.toMatchObject({
			code: 404,
		});
		await activate("user_owner", vendor.id);
		await expect(engine.broker.call("vendors.authorizeBroadcast", { id: vendor.id }, as("user_other"))).rejects.toMatchObject({
			code: 403,
			type: "FORBIDDEN",
		});
		expect(await engine.broker.call("vendors.authorizeBroadcast", { id: vendor.id }, as("user_owner", "vendor"))).toMatchObject({
			id: vendor.id,
			status: "active",
		});
		expect(await engine.broker.call("vendors.authorizeBroadcast", { id: vendor.id }, as("user_root", "admin"))).toMatchObject({
			id: vendor.id,
		});
	});

	it("lists with pagination, text, category and owner filters", async () => {
		const names = [
			"Zanzibar Grill",
			"Zanzibar Juice",
			"Kumquat Corner",
			"Zanzibar Bakery",
			"Olive Cart",
			"Zanzibar Fries",
			"Night Zanzibar",
		];
		const made = [];
		for (const [i, name] of names.entries()) {
			const v = await onboard("user_lister", { name, categories: [i % 2 === 0 ? "pagfood" : "pagdrink"] });
			if (i < 6) await activate("user_lister", v.id);
			made.push(v);
		}
		const page1 = await api.get("/api/vendors?category=pagfood&pageSize=2&page=1");
		expect(page1.body).toMatchObject({ total: 3, page: 1, pageSize: 2, totalPages: 2 });
		const page2 = await api.get("/api/vendors?category=pagfood&pageSize=2&page=2");
		expect(page2.body.rows).toHaveLength(1);
		const listed = [...page1.body.rows, ...page2.body.rows].map((v: { name: string }) => v.name);
		expect(listed.sort()).toEqual(["Kumquat Corner", "Olive Cart", "Zanzibar Grill"]);

		const text = await api.get("/api/vendors?q=zanzibar&pageSize=100");
		expect(text.body.rows.map((v: { name: string }) => v.name).sort()).toEqual([
			"Zanzibar Bakery",
			"Zanzibar Fries",
			"Zanzibar Grill",
			"Zanzibar Juice",
		]);
		expect((await api.get("/api/vendors?q=zanzibar&category=pagdrink")).body.total).toBe(3);

		const mine = await api.get("/api/vendors?owner=me&pageSize=100", await token("user_lister"));
		expect(mine.body.total).toBe(7);
		expect(mine.body.rows[0].name).toBe("Night Zanzibar");
		expect(
			(await api.get("/api/vendors?owner=me&status=draft", await token("user_lister"))).body.rows.map((v: { id: string }) => v.id)
		).toEqual([made[6].id]);
		expect((await api.get("/api/vendors?owner=me")).status).toBe(401);
		for (const bad of ["pageSize=0", "pageSize=101", "page=0", "page=abc", "status=draft", "owner=you", "sort=name"]) {
			const res = await api.get(`/api/vendors?${bad}`);
			expect(res.status, bad).toBe(422);
		}
	});

	it("creates a user exactly once when the first requests arrive together", async () => {
		const fresh = await token("user_burst");
		const answers = await Promise.all(Array.from({ length: 8 }, () => api.get("/api/me", fresh)));
		expect(answers.map(a => a.status)).toEqual(Array(8).fill(200));
		expect(new Set(answers.map(a => a.body.createdAt)).size).toBe(1);
		expect(seen.filter(e => e.name === "marketplace.user_registered" && e.payload.context.userId === "user_burst")).toHaveLength(1);
	});

	it("round-trips favourites", async () => {
		const vendor = await onboard("user_owner", { name: "Fave Stall" });
		const fan = await token("user_fan");
		expect((await api.put(`/api/me/favorites/${vendor.id}`, fan)).body).toEqual({ favorites: [vendor.id] });
		expect((await api.put(`/api/me/favorites/${vendor.id}`, fan)).body).toEqual({ favorites: [vendor.id] });
		const list = await api.get("/api/me/favorites", fan);
		expect(list.body.total).toBe(1);
		expect(list.body.rows[0]).toMatchObject({ id: vendor.id, name: "Fave Stall" });
		expect((await api.put("/api/me/favorites/ven_missing", fan)).status).toBe(404);
		expect((await api.put(`/api/me/favorites/${vendor.id}`)).status).toBe(401);
		expect((await api.del(`/api/me/favorites/${vendor.id}`, fan)).body).toEqual({ favorites: [] });
		expect((await api.get("/api/me/favorites", fan)).body).toEqual({ rows: [], total: 0 });
		const favoriteEvents = seen.filter(e => e.name === "marketplace.user_updated" && e.payload.context.vendorId === vendor.id);
		expect(favoriteEvents.map(e => e.payload.data.favorite)).toEqual([
			{ vendorId: vendor.id, added: true },
			{ vendorId: vendor.id, added: false },
		]);
	});

	it("keeps one review per user and the rating average and count", async () => {
		const vendor = await onboard("user_owner", { name: "Review Me" });
		const review = async (sub: string, rating: number, text = "") =>
			api.post(`/api/vendors/${vendor.id}/reviews`, { rating, text }, await token(sub));
		expect((await review("user_r1", 5, "great")).status).toBe(201);
		await review("user_r2", 4);
		const third = await review("user_r3", 2);
		expect(third.body.rating).toEqual({ average: 3.67, count: 3 });
		const again = await review("user_r1", 1, "changed my mind");
		expect(again.status).toBe(200);
		expect(again.body.rating).toEqual({ average: 2.33, count: 3 });
		expect((await api.get(`/api/vendors/${vendor.id}`)).body.rating).toEqual({ average: 2.33, count: 3 });

		const list = await api.get(`/api/vendors/${vendor.id}/reviews`);
		expect(list.body.total).toBe(3);
		expect(list.body.rows[0]).toMatchObject({ userId: "user_r1", rating: 1, text: "changed my mind" });
		expect((await review("user_owner", 5)).status).toBe(403);
		expect((await review("user_r4", 6)).status).toBe(422);
		expect((await review("user_r4", 2.5)).status).toBe(422);
		expect((await api.post(`/api/vendors/${vendor.id}/reviews`, { rating: 3 })).status).toBe(401);
		expect((await api.post("/api/vendors/ven_missing/reviews", { rating: 3 }, await token("user_r4"))).status).toBe(404);
		expect(eventsFor("marketplace.review_submitted", vendor.id)).toHaveLength(4);
	});

	it("keeps the average exact under concurrent review submissions", async () => {
		const vendor = await onboard("user_owner", { name: "Busy Stall" });
		const ratings = Array.from({ length: 40 }, (_, i) => ((i * 7) % 5) + 1);
		const subs = ratings.map((_, i) => `user_crowd_${i}`);
		const tokenList = await Promise.all(subs.map(token));
		const results = await Promise.all(ratings.map((rating, i) => api.post(`/api/vendors/${vendor.id}/reviews`, { rating }, tokenList[i])));
		expect(results.every(r => r.status === 201)).toBe(true);
		// Half of them change their rating at the same time as new ones arrive.
		const changes = await Promise.all([
			...subs.slice(0, 20).map((_, i) => api.post(`/api/vendors/${vendor.id}/reviews`, { rating: 5 }, tokenList[i])),
			...Array.from({ length: 10 }, async (_, i) =>
				api.post(`/api/vendors/${vendor.id}/reviews`, { rating: 1 }, await token(`user_late_${i}`))
			),
		]);
		expect(changes.every(r => r.status === 200 || r.status === 201)).toBe(true);
		const sum = 20 * 5 + ratings.slice(20).reduce((a, b) => a + b, 0) + 10 * 1;
		const expected = { average: Math.round((sum / 50) * 100) / 100, count: 50 };
		expect((await api.get(`/api/vendors/${vendor.id}`)).body.rating).toEqual(expected);
		expect((await api.get(`/api/vendors/${vendor.id}/reviews?pageSize=100`)).body.total).toBe(50);
	});

	it("finds live vendors nearby, sorted by distance, with text and category filters", async () => {
		// Around (48.0, 11.0), far from every other vendor of this suite.
		const spots = [
			{ name: "Near Pretzel", lat: 48.001, lng: 11.0, categories: ["bakery"] },
			{ name: "Mid Pretzel", lat: 48.01, lng: 11.0, categories: ["bakery"] },
			{ name: "Far Sausage", lat: 48.03, lng: 11.0, categories: ["grill"] },
			{ name: "Too Far Pretzel", lat: 48.2, lng: 11.0, categories: ["bakery"] },
			{ name: "Paused Pretzel", lat: 48.002, lng: 11.0, categories: ["bakery"] },
		];
		const ids: Record<string, string> = {};
		for (const { name, lat, lng, categories } of spots) {
			const v = await onboard("user_stalls", { name, categories, location: { lat, lng } });
			ids[name] = v.id;
			if (name !== "Paused Pretzel") await activate("user_stalls", v.id);
		}
		const near = await api.get("/api/discovery/nearby?lat=48&lng=11&radius=5000");
		expect(near.status).toBe(200);
		expect(near.body.rows.map((v: { name: string }) => v.name)).toEqual(["Near Pretzel", "Mid Pretzel", "Far Sausage"]);
		const [first] = near.body.rows;
		expect(first.distance).toBeGreaterThan(105);
		expect(first.distance).toBeLessThan(118);
		expect(first).toMatchObject({ online: false, position: { lat: 48.001, lng: 11.0 } });
		expect(
			(await api.get("/api/discovery/nearby?lat=48&lng=11&radius=5000&category=grill")).body.rows.map((v: { id: string }) => v.id)
		).toEqual([ids["Far Sausage"]]);
		expect(
			(await api.get("/api/discovery/nearby?lat=48&lng=11&radius=2000&q=pretzel")).body.rows.map((v: { name: string }) => v.name)
		).toEqual(["Near Pretzel", "Mid Pretzel"]);
		expect((await api.get("/api/discovery/nearby?lat=48&lng=11&radius=5000&online=true")).body.rows).toEqual([]);
		for (const bad of [
			"lat=91&lng=0",
			"lat=0&lng=181",
			"lat=x&lng=0",
			"lng=0",
			"lat=0&lng=0&radius=0",
			"lat=0&lng=0&radius=50001",
			"lat=0&lng=0&extra=1",
		]) {
			expect((await api.get(`/api/discovery/nearby?${bad}`)).status, bad).toBe(422);
		}
	});

	it("soft-deletes a vendor: gone from reads, lists and favourites; it stops broadcasting", async () => {
		const vendor = await onboard("user_owner", { name: "Short Lived" });
		await activate("user_owner", vendor.id);
		await api.put(`/api/me/favorites/${vendor.id}`, await token("user_fan"));
		expect((await api.del(`/api/vendors/${vendor.id}`, await token("user_other"))).status).toBe(403);
		expect((await api.del(`/api/vendors/${vendor.id}`)).status).toBe(401);
		expect((await api.del(`/api/vendors/${vendor.id}`, await token("user_owner"))).body).toEqual({ id: vendor.id, deleted: true });
		expect((await api.get(`/api/vendors/${vendor.id}`)).status).toBe(404);
		expect((await api.del(`/api/vendors/${vendor.id}`, await token("user_owner"))).status).toBe(404);
		expect(
			(await api.get("/api/vendors?owner=me&pageSize=100", await token("user_owner"))).body.rows.some(
				(v: { id: string }) => v.id === vendor.id
			)
		).toBe(false);
		expect((await api.get("/api/me/favorites", await token("user_fan"))).body.rows.some((v: { id: string }) => v.id === vendor.id)).toBe(
			false
		);
		expect(eventsFor("marketplace.vendor_status_changed", vendor.id).at(-1)?.payload.data).toMatchObject({
			id: vendor.id,
			canBroadcast: false,
			deleted: true,
		});
	});

	it("serves the users contract: Clerk upsert, roles, lookup, soft delete that detaches vendors", async () => {
		const call = (action: string, params: object) => engine.broker.call(action, params, AS_OPERATOR);
		expect(
			await call("users.upsertFromClerk", { id: "user_clerk", email: "ana@example.com", firstName: "Ana", role: "admin" })
		).toMatchObject({ id: "user_clerk", role: "admin", firstName: "Ana" });
		expect(await call("users.upsertFromClerk", { id: "user_clerk", lastName: "Lima" })).toMatchObject({
			role: "admin",
			lastName: "Lima",
			email: "ana@example.com",
		});
		await expect(call("users.upsertFromClerk", { id: "user_clerk", email: "nope" })).rejects.toMatchObject({ code: 422 });
		expect(await call("users.lookup", { ids: ["user_unknown", "user_clerk", "user_owner"] })).toMatchObject({ id: "user_clerk" });
		expect(await call("users.lookup", { ids: ["user_unknown"] })).toBeNull();

		const me = await api.patch("/api/me", { firstName: "Bo", imageUrl: "https://img.example/bo.png" }, await token("user_bo"));
		expect(me.body).toMatchObject({ id: "user_bo", firstName: "Bo", role: "customer" });
		expect((await api.patch("/api/me", { role: "admin" }, await token("user_bo"))).status).toBe(422);
		expect((await api.patch("/api/me", {}, await token("user_bo"))).status).toBe(422);

		const vendor = await onboard("user_bo", { name: "Bo's Buns" });
		await activate("user_bo", vendor.id);
		expect(await call("users.remove", { id: "user_bo" })).toEqual({ id: "user_bo", deleted: true });
		expect(await call("vendors.get", { id: vendor.id })).toMatchObject({ ownerId: null, status: "paused" });
		expect((await api.get("/api/me", await token("user_bo"))).status).toBe(401);
		expect(await call("users.lookup", { ids: ["user_bo"] })).toBeNull();
		expect(seen.some(e => e.name === "marketplace.user_deleted" && e.payload.context.userId === "user_bo")).toBe(true);
		expect(eventsFor("marketplace.vendor_status_changed", vendor.id).at(-1)?.payload.data).toMatchObject({
			status: "paused",
			previous: "active",
			canBroadcast: false,
		});
	});

	it("applies subscription state to the owner's vendors, ignoring out-of-order updates", async () => {
		const a = await onboard("user_payer", { name: "Sub A" });
		const b = await onboard("user_payer", { name: "Sub B" });
		const sub = (active: boolean, updatedAt: string) => ({
			ownerId: "user_payer",
			subscription: {
				active,
				entitlements: active ? ["pro"] : [],
				expiresAt: "2030-01-01T00:00:00Z",
				store: "APP_STORE",
				environment: "SANDBOX",
				updatedAt,
			},
		});
		expect(
			((await engine.broker.call("vendors.setSubscription", sub(true, "2026-01-02T00:00:00Z"), AS_OPERATOR)) as string[]).sort()
		).toEqual([a.id, b.id].sort());
		expect(await engine.broker.call("vendors.setSubscription", sub(false, "2026-01-01T00:00:00Z"), AS_OPERATOR)).toEqual([]);
		expect((await api.get(`/api/vendors/${a.id}`)).body.subscription).toEqual({
			active: true,
			entitlements: ["pro"],
			expiresAt: "2030-01-01T00:00:00.000Z",
		});
		// The older one changed nothing, so it announced nothing.
		const event = seen.filter(e => e.name === "payments.subscription_changed" && e.payload.context.userId === "user_payer");
		expect(event).toHaveLength(1);
		expect(event[0]!.payload.data.vendorIds.sort()).toEqual([a.id, b.id].sort());
		// A vendor onboarded later starts with the owner's current subscription.
		expect((await onboard("user_payer", { name: "Sub C" })).subscription.active).toBe(true);
		await expect(
			engine.broker.call("vendors.setSubscription", { ownerId: "user_payer", subscription: { active: "yes" } }, AS_OPERATOR)
		).rejects.toMatchObject({ code: 422 });
	});

	it("keeps every record across a restart", async () => {
		const dataDir = store === "embedded" ? await mkdtemp(join(tmpdir(), "venta-data-")) : undefined;
		const env = { SERVICES: MARKETPLACE, ...(dataDir ? { DATA_DIR: dataDir } : storeEnv(store, "restart")) };
		try {
			const first = await startTestEngine(env);
			await waitForMarketplaceRoutes(first.baseUrl);
			const a = restClient(first.baseUrl);
			const owner = await first.token("user_keep");
			const fan = await first.token("user_keep_fan");
			const created = (await a.post("/api/vendors", { name: "Durable Diner", categories: ["diner"] }, owner)).body;
			await a.post(`/api/vendors/${created.id}/status`, { status: "active" }, owner);
			await a.post(`/api/vendors/${created.id}/reviews`, { rating: 4, text: "solid" }, fan);
			await a.put(`/api/me/favorites/${created.id}`, fan);
			const before = (await a.get(`/api/vendors/${created.id}`)).body;
			await first.stop();

			const second = await startTestEngine(env);
			try {
				await waitForMarketplaceRoutes(second.baseUrl);
				const b = restClient(second.baseUrl);
				expect((await b.get(`/api/vendors/${created.id}`)).body).toEqual(before);
				expect(before).toMatchObject({ status: "active", rating: { average: 4, count: 1 } });
				expect((await b.get(`/api/vendors/${created.id}/reviews`)).body.rows[0]).toMatchObject({ userId: "user_keep_fan", rating: 4 });
				expect((await b.get("/api/me/favorites", await second.token("user_keep_fan"))).body.rows[0].id).toBe(created.id);
				expect((await b.get("/api/me", await second.token("user_keep"))).body.role).toBe("vendor");
			} finally {
				await second.stop();
			}
		} finally {
			if (dataDir) await rm(dataDir, { recursive: true, force: true });
		}
	});
}

describe("marketplace over REST on the embedded store", () => marketplaceSuite("embedded"));
describe.skipIf(!mongoUrl)("marketplace over REST on Mongo", () => marketplaceSuite("mongo"));
