import { cellToLatLng, cellToParent, gridDisk, latLngToCell } from "h3-js";
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { LiveClient, waitForRoutes } from "../../helpers/live.ts";
import { restClient } from "../../helpers/rest.ts";
import type { ErrorBody } from "../../../lib/errors.ts";
import type { DemandAnswer, SuggestionsAnswer } from "../../../services/discovery/contract.ts";

const RES = 8;
const at = (cell: string) => {
	const [lat, lng] = cellToLatLng(cell);
	return { lat, lng };
};
/** Munich: the privacy and vendor-area cases. */
const MUNICH = { lat: 48.137, lng: 11.575 };
const M1 = latLngToCell(MUNICH.lat, MUNICH.lng, RES);
const M2 = gridDisk(M1, 2).at(-1)!;
const MUNICH_BOX = "11.5,48.1,11.65,48.18";
/** Berlin: the suggestions (C1 is where the vendor stands; C2 and C3 are about 1–2 km away). */
const C1 = latLngToCell(52.52, 13.405, RES);
const C2 = gridDisk(C1, 2).at(-1)!;
const C3 = gridDisk(C1, 2).at(-4)!;
const BERLIN_BOX = "13.35,52.49,13.46,52.55";

describe("demand signals over REST: GET /api/discovery/demand and /api/vendors/:id/suggestions", () => {
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	const tokens: Record<string, string> = {};
	const sockets: LiveClient[] = [];
	const logged: MockInstance[] = [];
	let stall: string;
	let truck: string;

	/** `n` real watcher sockets, each watching `cell`. */
	async function watchers(cell: string, n: number): Promise<LiveClient[]> {
		const opened = await Promise.all(Array.from({ length: n }, () => LiveClient.open(engine.liveUrl)));
		sockets.push(...opened);
		await Promise.all(opened.map(c => c.watch({ cells: [cell] })));
		return opened;
	}

	/** Onboards and activates a vendor of `sub` (a fixed stall location if given), online at `online` if given. */
	async function vendor(sub: string, categories: string[], place: { location?: object; online?: object } = {}): Promise<string> {
		tokens[sub] ??= await engine.token(sub);
		const created = await api.post("/api/vendors", { name: `${sub} cart`, categories, location: place.location }, tokens[sub]);
		expect(created.status).toBe(201);
		expect((await api.post(`/api/vendors/${created.body.id}/status`, { status: "active" }, tokens[sub])).status).toBe(200);
		if (place.online) expect((await api.post(`/api/vendors/${created.body.id}/location`, place.online, tokens[sub])).status).toBe(200);
		return created.body.id as string;
	}

	const demand = (query: string, token?: string) => api.get<DemandAnswer & Partial<ErrorBody>>(`/api/discovery/demand?${query}`, token);
	const suggestions = (id: string, token?: string, query = "") =>
		api.get<SuggestionsAnswer & Partial<ErrorBody>>(`/api/vendors/${id}/suggestions${query}`, token);

	beforeAll(async () => {
		engine = await startTestEngine({ DEMAND_MIN_COUNT: "3", H3_RES: String(RES) });
		api = restClient(engine.baseUrl);
		await waitForRoutes(engine.baseUrl);
		for (const sub of ["user_dm_admin", "user_dm_customer"]) {
			tokens[sub] = await engine.token(sub);
			expect((await api.get("/api/me", tokens[sub])).status).toBe(200);
		}
		await engine.broker.call("users.setRole", { id: "user_dm_admin", role: "admin" }, AS_OPERATOR);
		stall = await vendor("user_dm_stall", ["flowers"], { location: MUNICH });
		truck = await vendor("user_dm_truck", ["tacos"], { online: at(C1) });
		await vendor("user_dm_nowhere", ["tacos"]);
		// Every level of the services that see the params; the gateway's errors and warnings (its info
		// line per request is JSON with the URL, as for every route).
		for (const name of ["discovery", "vendors", "live"]) {
			const logger = engine.broker.getLocalService(name)!.logger;
			for (const level of ["fatal", "error", "warn", "info", "debug", "trace"] as const) logged.push(vi.spyOn(logger, level));
		}
		const gateway = engine.broker.getLocalService("api")!.logger;
		for (const level of ["fatal", "error", "warn"] as const) logged.push(vi.spyOn(gateway, level));
	});
	afterAll(async () => {
		for (const c of sockets) c.close();
		vi.restoreAllMocks();
		await engine?.stop();
	});

	it("hides cells with fewer watchers than DEMAND_MIN_COUNT, and total sums the cells shown", async () => {
		await watchers(M1, 2);
		await watchers(M2, 3);
		const first = await demand(`bbox=${MUNICH_BOX}`, tokens.user_dm_admin);
		expect(first.status).toBe(200);
		expect(first.body).toEqual({ bbox: [11.5, 48.1, 11.65, 48.18], res: RES, minCount: 3, total: 3, cells: [{ cell: M2, watchers: 3 }] });
		// GETs count against the reads budget like every other.
		expect(first.headers.get("ratelimit-limit")).toBeTruthy();
		await watchers(M1, 2);
		const after = await waitFor(
			async () => {
				const answer = await demand(`bbox=${MUNICH_BOX}`, tokens.user_dm_admin);
				return answer.body.cells.length === 2 ? answer : null;
			},
			{ what: "M1 shown at 4 watchers" }
		);
		expect(after.body).toMatchObject({
			total: 7,
			cells: [
				{ cell: M1, watchers: 4 },
				{ cell: M2, watchers: 3 },
			],
		});
		// The coarse level: distinct sockets under the parent cell(s).
		const coarse = await demand(`bbox=${MUNICH_BOX}&res=${RES - 2}`, tokens.user_dm_admin);
		expect(coarse.status).toBe(200);
		expect(coarse.body.res).toBe(RES - 2);
		expect(coarse.body.total).toBe(7);
		expect(coarse.body.cells.map(c => c.cell)).toContain(cellToParent(M1, RES - 2));
	});

	it("lets a vendor account read the area of its own vendors (fixed or live), and nowhere else", async () => {
		const near = await demand(`bbox=${MUNICH_BOX}`, tokens.user_dm_stall);
		expect(near.status).toBe(200);
		expect(near.body.cells.length).toBeGreaterThan(0);
		expect((await demand(`bbox=${BERLIN_BOX}`, tokens.user_dm_truck)).status).toBe(200);
		const far = await demand(`bbox=${BERLIN_BOX}`, tokens.user_dm_stall);
		expect([far.status, far.body.type]).toEqual([403, "OUTSIDE_OWN_AREA"]);
		// A box that starts near the stall but reaches 20 km away is not "near".
		expect((await demand("bbox=11.5,48.1,11.85,48.18", tokens.user_dm_stall)).body.type).toBe("OUTSIDE_OWN_AREA");
		const none = await demand(`bbox=${MUNICH_BOX}`, tokens.user_dm_nowhere);
		expect([none.status, none.body.type]).toEqual([403, "NO_POSITION"]);
	});

	it("refuses customers (403) and anonymous callers (401)", async () => {
		expect((await demand(`bbox=${MUNICH_BOX}`, tokens.user_dm_customer)).status).toBe(403);
		const anonymous = await demand(`bbox=${MUNICH_BOX}`);
		expect([anonymous.status, anonymous.body.type]).toEqual([401, "NO_TOKEN"]);
	});

	it("answers a bad box or level with a 4xx that names the rule, and logs nothing of the input", async () => {
		const marker = "EVIL<script>marker";
		for (const spy of logged) spy.mockClear();
		const cases: [string, number, string, RegExp][] = [
			[`bbox=${marker}`, 422, "bbox", /bbox must be w,s,e,n/],
			[`bbox=${"9".repeat(201)}`, 422, "bbox", /length must be less than or equal to 200/],
			["bbox=11.65,48.1,11.5,48.0", 422, "bbox", /bbox must be w,s,e,n/],
			[`bbox=${MUNICH_BOX}&res=${RES - 1}`, 422, "res", new RegExp(`res must be ${RES} \\(fine\\) or ${RES - 2} \\(coarse\\)`)],
			[`bbox=${MUNICH_BOX}&res=${marker}`, 422, "res", /must be a number/],
			[`bbox=${MUNICH_BOX}&extra=${marker}`, 422, "", /Unknown parameter\(s\): "extra"/],
		];
		for (const [query, status, field, message] of cases) {
			const answer = await demand(query, tokens.user_dm_admin);
			expect([query, answer.status]).toEqual([query, status]);
			const problems = answer.body.data as { field: string; message: string }[];
			const said = `${answer.body.message} ${problems.map(p => p.message).join(" ")}`;
			expect(problems.map(p => p.field).join(" "), query).toContain(field);
			expect(said, query).toMatch(message);
			expect(said).not.toContain("EVIL");
		}
		// The whole world is more routing cells than live.demand takes at once.
		const world = await demand("bbox=-180,-85,180,85", tokens.user_dm_admin);
		expect([world.status, world.body.type]).toEqual([400, "AREA_TOO_LARGE"]);
		for (const spy of logged) expect(JSON.stringify(spy.mock.calls)).not.toContain("EVIL");
	});

	it("ranks suggestions by watchers ÷ (same-kind vendors + 1), not counting the vendor itself nor other kinds, never below the threshold", async () => {
		await watchers(C1, 6);
		await watchers(C2, 4);
		await watchers(C3, 2);
		await vendor("user_dm_rival", ["drinks", "tacos"], { online: at(C1) });
		await vendor("user_dm_florist", ["flowers"], { online: at(C2) });
		const answer = await suggestions(truck, tokens.user_dm_truck);
		expect(answer.status).toBe(200);
		expect(answer.body).toMatchObject({ vendorId: truck, from: at(C1), radius: 3000, res: RES, minCount: 3 });
		expect(answer.body.suggestions.map(({ cell, watchers, vendors, score }) => ({ cell, watchers, vendors, score }))).toEqual([
			{ cell: C2, watchers: 4, vendors: 0, score: 4 },
			{ cell: C1, watchers: 6, vendors: 1, score: 3 },
		]);
		const [c2, c1] = answer.body.suggestions;
		expect(c1!.distance).toBe(0);
		expect(c2!.distance).toBeGreaterThan(500);
		expect({ lat: c2!.lat, lng: c2!.lng }).toEqual(at(C2));
		// A smaller radius leaves the farther cell out; limit cuts the list.
		expect((await suggestions(truck, tokens.user_dm_truck, "?radius=100")).body.suggestions.map(s => s.cell)).toEqual([C1]);
		expect((await suggestions(truck, tokens.user_dm_truck, "?limit=1")).body.suggestions.map(s => s.cell)).toEqual([C2]);
		expect((await suggestions(truck, tokens.user_dm_truck, "?radius=20000")).status).toBe(422);
	});

	it("answers suggestions only to the vendor's owner or an admin, and 409 NO_POSITION for a vendor with no position", async () => {
		expect((await suggestions(truck, tokens.user_dm_admin)).status).toBe(200);
		expect((await suggestions(truck, tokens.user_dm_stall)).status).toBe(403);
		expect((await suggestions(truck, tokens.user_dm_customer)).status).toBe(403);
		expect((await suggestions(truck)).status).toBe(401);
		expect((await suggestions("ven_nosuchvendor", tokens.user_dm_admin)).status).toBe(404);
		const [nowhere] = (await api.get(`/api/vendors?owner=me`, tokens.user_dm_nowhere)).body.rows;
		const none = await suggestions(nowhere.id, tokens.user_dm_nowhere);
		expect([none.status, none.body.type]).toEqual([409, "NO_POSITION"]);
		// A stall with a fixed location starts from there.
		expect((await suggestions(stall, tokens.user_dm_stall)).body).toMatchObject({ from: MUNICH });
	});
});
