import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceSchema } from "moleculer";
import { serviceCaller } from "../../../lib/identity.ts";
import { FENCES_CHANGED_EVENT, MAX_ALERTS_PER_USER, type Fence, type FencesChanged } from "../../../services/alerts/contract.ts";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { restClient, waitForMarketplaceRoutes } from "../../helpers/rest.ts";

/** A geo node's view: every FENCES_CHANGED_EVENT broadcast it receives. */
const changes: FencesChanged[] = [];
const fenceListener: ServiceSchema = {
	name: "fence-listener",
	events: { [FENCES_CHANGED_EVENT]: (ctx: { params: FencesChanged }) => void changes.push(ctx.params) },
};

const SQUARE: [number, number][] = [
	[13.4, 52.5],
	[13.41, 52.5],
	[13.41, 52.51],
	[13.4, 52.51],
];
const AT = { lat: 52.505, lng: 13.405 };

describe("alerts and zones over REST", () => {
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	const tokens: Record<string, string> = {};
	const token = async (sub: string) => (tokens[sub] ??= await engine.token(sub));
	const fences = () => engine.broker.call<Fence[], object>("alerts.fences", {}, { meta: { user: serviceCaller("geo") } });
	const listOf = async (sub: string) => (await api.get("/api/me/alerts", await token(sub))).body;
	let vendorId: string;
	let otherVendorId: string;

	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api,users,vendors,alerts" }, [fenceListener]);
		api = restClient(engine.baseUrl);
		await waitForMarketplaceRoutes(engine.baseUrl);
		vendorId = (await api.post("/api/vendors", { name: "Taco Truck" }, await token("owner_1"))).body.id;
		otherVendorId = (await api.post("/api/vendors", { name: "Coffee Cart" }, await token("owner_2"))).body.id;
	});
	afterAll(() => engine?.stop());

	it("creates, lists, reads and deletes an alert; each change is broadcast and alerts.fences has it", async () => {
		const body = { kind: "vendor_nearby", vendor: { id: vendorId }, radius: 500, at: AT };
		const created = await api.post("/api/me/alerts", body, await token("ana"));
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ ...body, userId: "ana", minIntervalS: 60 });
		const id = created.body.id as string;
		expect(created.headers.get("location")).toBe(`/api/me/alerts/${id}`);
		expect((await api.get(`/api/me/alerts/${id}`, await token("ana"))).body).toEqual(created.body);
		expect(await listOf("ana")).toEqual({ rows: [created.body], total: 1 });

		const fence = (await fences()).find(f => f.id === id);
		expect(fence).toEqual({
			id,
			kind: "vendor_nearby",
			userId: "ana",
			shape: { type: "circle", center: AT, radius: 500 },
			roaming: false,
			filter: { vendorIds: [vendorId] },
			on: ["enter"],
			minIntervalS: 60,
		});
		await waitFor(() => changes.some(c => c.upsert.some(f => f.id === id)), { what: "the upsert broadcast" });

		expect((await api.del(`/api/me/alerts/${id}`, await token("ana"))).body).toEqual({ id, deleted: true });
		await waitFor(() => changes.some(c => c.remove.includes(id)), { what: "the remove broadcast" });
		expect(await listOf("ana")).toEqual({ rows: [], total: 0 });
		expect((await fences()).some(f => f.id === id)).toBe(false);
	});

	it("an area alert: a closed polygon is stored open, with its defaults; roaming for at: here", async () => {
		const area = await api.post(
			"/api/me/alerts",
			{
				kind: "area",
				filter: { categories: ["Coffee"] },
				area: { type: "polygon", points: [...SQUARE, SQUARE[0]] },
				on: ["enter", "exit"],
			},
			await token("ben")
		);
		expect(area.status).toBe(201);
		expect(area.body).toMatchObject({
			filter: { categories: ["coffee"] },
			area: { type: "polygon", points: SQUARE },
			on: ["enter", "exit"],
		});
		const roaming = await api.post(
			"/api/me/alerts",
			{ kind: "vendor_nearby", vendor: { category: "tacos" }, radius: 300, at: "here" },
			await token("ben")
		);
		expect(roaming.status).toBe(201);
		const fence = (await fences()).find(f => f.id === roaming.body.id);
		expect(fence).toMatchObject({ roaming: true, shape: { type: "circle", center: null, radius: 300 }, filter: { categories: ["tacos"] } });
		expect((await listOf("ben")).total).toBe(2);
	});

	it.each([
		["a polygon of fewer than 3 points", { kind: "area", area: { type: "polygon", points: [SQUARE[0], SQUARE[1], SQUARE[0]] } }],
		["a self-intersecting polygon", { kind: "area", area: { type: "polygon", points: [SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3]] } }],
		[
			"a polygon over the area cap",
			{
				kind: "area",
				area: {
					type: "polygon",
					points: [
						[13, 52],
						[14, 52],
						[14, 53],
						[13, 53],
					],
				},
			},
		],
		["a radius under the minimum", { kind: "vendor_nearby", vendor: { favorites: true }, radius: 49, at: AT }],
		["a radius over the maximum", { kind: "vendor_nearby", vendor: { favorites: true }, radius: 10_001, at: AT }],
		["an interval under the minimum", { kind: "vendor_nearby", vendor: { favorites: true }, radius: 100, at: "here", minIntervalS: 10 }],
		["fields of the other kind", { kind: "vendor_nearby", vendor: { favorites: true }, radius: 100, at: "here", on: ["exit"] }],
		["invalid H3 cells", { kind: "area", area: { type: "cells", cells: ["8a1f1d48a5affff-x"] } }],
		["an unknown kind", { kind: "teleport" }],
	])("refuses %s with 422, nothing stored, the input not echoed", async (_what, body) => {
		const res = await api.post("/api/me/alerts", body, await token("cleo"));
		expect(res.status).toBe(422);
		expect(res.body.type).toBe("VALIDATION_ERROR");
		expect(res.body.message).not.toContain("13.41");
		expect(await listOf("cleo")).toEqual({ rows: [], total: 0 });
	});

	it("someone else's alert is 404 to read or delete, and stays; anonymous is 401", async () => {
		const mine = (
			await api.post("/api/me/alerts", { kind: "vendor_nearby", vendor: { id: vendorId }, radius: 100, at: AT }, await token("dora"))
		).body;
		expect((await api.del(`/api/me/alerts/${mine.id}`, await token("eve"))).status).toBe(404);
		expect((await api.get(`/api/me/alerts/${mine.id}`, await token("eve"))).status).toBe(404);
		expect((await api.del("/api/me/alerts/alr_nonexistent00000", await token("dora"))).status).toBe(404);
		expect((await listOf("dora")).rows).toEqual([mine]);
		expect((await api.get("/api/me/alerts")).status).toBe(401);
		expect((await api.post("/api/me/alerts", { kind: "area" })).status).toBe(401);
	});

	it(`caps a user at ${MAX_ALERTS_PER_USER} alerts (409 ALERT_LIMIT), others unaffected`, async () => {
		const body = { kind: "vendor_nearby", vendor: { category: "tacos" }, radius: 100, at: "here" };
		for (let i = 0; i < MAX_ALERTS_PER_USER; i++) expect((await api.post("/api/me/alerts", body, await token("fay"))).status).toBe(201);
		const over = await api.post("/api/me/alerts", body, await token("fay"));
		expect(over.status).toBe(409);
		expect(over.body.type).toBe("ALERT_LIMIT");
		expect((await listOf("fay")).total).toBe(MAX_ALERTS_PER_USER);
		expect((await api.post("/api/me/alerts", body, await token("gus"))).status).toBe(201);
	});

	it(`holds the cap of ${MAX_ALERTS_PER_USER} when a user's creates arrive at once, over REST and from other services`, async () => {
		const body = { kind: "vendor_nearby", vendor: { category: "tacos" }, radius: 100, at: "here" };
		const create = (userId: string, i: number) =>
			i % 2 === 0
				? api.post("/api/me/alerts", body, tokens[userId]).then(r => ({ status: r.status, type: r.body.type }))
				: engine.broker.call("alerts.create", { ...body }, { meta: { user: { id: userId, role: "customer" } } }).then(
						() => ({ status: 201, type: "" }),
						(err: { code: number; type: string }) => ({ status: err.code, type: err.type })
					);
		for (const userId of ["ivy", "jon", "kim"]) {
			await token(userId);
			// Five places left, then twenty creates at once.
			for (let i = 0; i < MAX_ALERTS_PER_USER - 5; i++) expect((await create(userId, 1)).status).toBe(201);
			const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => create(userId, i)));
			expect(
				answers.filter(a => a.status === 201),
				userId
			).toHaveLength(5);
			expect(
				answers.filter(a => a.status === 409 && a.type === "ALERT_LIMIT"),
				userId
			).toHaveLength(15);
			expect((await listOf(userId)).total, userId).toBe(MAX_ALERTS_PER_USER);
		}
	});

	it("a favourites alert is compiled with the favourites and recompiled when they change", async () => {
		const fav = await token("hal");
		await api.put(`/api/me/favorites/${vendorId}`, fav);
		const alert = (await api.post("/api/me/alerts", { kind: "vendor_nearby", vendor: { favorites: true }, radius: 500, at: "here" }, fav))
			.body;
		const area = (
			await api.post("/api/me/alerts", { kind: "area", filter: { favorites: true }, area: { type: "polygon", points: SQUARE } }, fav)
		).body;
		expect((await fences()).find(f => f.id === alert.id)?.filter).toEqual({ vendorIds: [vendorId] });

		const seen = changes.length;
		await api.put(`/api/me/favorites/${otherVendorId}`, fav);
		const change = await waitFor(() => changes.slice(seen).find(c => c.upsert.some(f => f.id === alert.id)), {
			what: "the recompiled fences",
		});
		expect(change.upsert.map(f => f.id).sort()).toEqual([alert.id, area.id].sort());
		for (const f of change.upsert) expect(f.filter).toEqual({ vendorIds: [vendorId, otherVendorId] });
		expect((await fences()).find(f => f.id === area.id)?.filter).toEqual({ vendorIds: [vendorId, otherVendorId] });

		await api.del(`/api/me/favorites/${vendorId}`, fav);
		await waitFor(async () => (await fences()).find(f => f.id === alert.id)?.filter.vendorIds?.length === 1, { what: "the removal" });
	});

	it("zones are admin-only: anonymous 401, a customer 403; an admin creates, lists and deletes them", async () => {
		const zone = { name: "Market square", points: SQUARE, on: ["enter", "dwell"], dwellS: 300 };
		expect((await api.post("/api/zones", zone)).status).toBe(401);
		expect((await api.post("/api/zones", zone, await token("ivy"))).status).toBe(403);
		expect((await api.get("/api/zones", await token("ivy"))).status).toBe(403);

		const admin = await token("root");
		await api.get("/api/me", admin);
		await engine.broker.call("users.setRole", { id: "root", role: "admin" }, AS_OPERATOR);
		const created = await api.post("/api/zones", zone, admin);
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject(zone);
		expect((await api.get("/api/zones", admin)).body).toEqual({ rows: [created.body], total: 1 });
		expect((await fences()).find(f => f.id === created.body.id)).toMatchObject({
			kind: "zone",
			userId: null,
			name: zone.name,
			dwellS: 300,
		});
		expect((await api.post("/api/zones", { name: "bow", points: [SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3]] }, admin)).status).toBe(422);
		expect((await api.del(`/api/zones/${created.body.id}`, admin)).body).toEqual({ id: created.body.id, deleted: true });
		expect((await api.get("/api/zones", admin)).body.total).toBe(0);
		await waitFor(() => changes.some(c => c.remove.includes(created.body.id)), { what: "the zone's removal" });
	});

	it("alerts.fences needs an identity (not for anonymous callers)", async () => {
		await expect(engine.broker.call("alerts.fences", {})).rejects.toMatchObject({ code: 401 });
	});
});
