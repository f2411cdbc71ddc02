import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor } from "../../helpers/live.ts";
import { restClient, waitForMarketplaceRoutes } from "../../helpers/rest.ts";
import { REQUEST_TIMEOUT_MS } from "../../../gateways/api/api.service.ts";

/** Hostile or careless requests get a clear 4xx, change nothing, and the engine goes on. */
describe("the REST gateway against untrusted input", () => {
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	let owner: string;
	let vendorId: string;
	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api,users,vendors" });
		api = restClient(engine.baseUrl);
		await waitForMarketplaceRoutes(engine.baseUrl);
		owner = await engine.token("user_hardening_owner");
		vendorId = await activeVendor(engine.baseUrl, owner, "Careful Cart");
		await api.patch(`/api/vendors/${vendorId}`, { description: "Best crêpes", phone: "+49 30 1234567", categories: ["crepes"] }, owner);
	});
	afterAll(() => engine.stop());

	it("refuses a body nested thousands of levels deep with 422, before anything parses it", async () => {
		for (const depth of [40, 5_000, 20_000]) {
			const res = await api.request("PATCH", `/api/vendors/${vendorId}`, {
				token: owner,
				raw: `{"name":${"[".repeat(depth)}1${"]".repeat(depth)}}`,
			});
			expect(res.status, `depth ${depth}`).toBe(422);
			expect(res.body).toMatchObject({ type: "VALIDATION_ERROR", data: [{ field: "body", type: "depth" }] });
		}
		expect((await api.get(`/api/vendors/${vendorId}`)).body.name).toBe("Careful Cart");
	});

	it("refuses a compressed body with 415 instead of failing to inflate it", async () => {
		for (const encoding of ["gzip", "br", "deflate"]) {
			const res = await api.request("PATCH", `/api/vendors/${vendorId}`, {
				token: owner,
				raw: '{"name":"Zip"}',
				headers: { "Content-Encoding": encoding },
			});
			expect(res.status, encoding).toBe(415);
			expect(res.body).toMatchObject({ code: 415, type: "UNSUPPORTED_MEDIA_TYPE" });
		}
		expect((await api.get(`/api/vendors/${vendorId}`)).body.name).toBe("Careful Cart");
	});

	it("clears optional profile fields with null, refuses null for the name and for fields that cannot be cleared", async () => {
		const noName = await api.patch(`/api/vendors/${vendorId}`, { name: null }, owner);
		expect(noName.status).toBe(422);
		expect(noName.body.data).toEqual([expect.objectContaining({ field: "name", type: "nullable" })]);
		expect((await api.get(`/api/vendors/${vendorId}`)).body.name).toBe("Careful Cart");

		const cleared = await api.patch(`/api/vendors/${vendorId}`, { description: null, phone: null, categories: null }, owner);
		expect(cleared.status).toBe(200);
		expect(cleared.body).toMatchObject({ name: "Careful Cart", description: "", categories: [] });
		expect(cleared.body).not.toHaveProperty("phone");

		const fan = await engine.token("user_hardening_fan");
		expect((await api.post(`/api/vendors/${vendorId}/reviews`, { rating: 5, text: null }, fan)).status).toBe(422);
		expect((await api.get(`/api/vendors/${vendorId}/reviews`)).body.total).toBe(0);
		const onboarded = await api.post("/api/vendors", { name: "Null Stall", description: null, phone: null }, fan);
		expect(onboarded.status).toBe(201);
		expect(onboarded.body).toMatchObject({ description: "" });
		expect(onboarded.body).not.toHaveProperty("phone");
	});

	it(`cuts off a client that trickles its body (the whole request must arrive within ${REQUEST_TIMEOUT_MS / 1000} s)`, async () => {
		const port = Number(new URL(engine.baseUrl).port);
		const started = Date.now();
		const answer = await new Promise<string>(resolve => {
			const socket = connect(port, "127.0.0.1", () => {
				socket.write(
					`PATCH /api/vendors/${vendorId} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`
				);
				const drip = setInterval(() => socket.write(" "), 1_000);
				let text = "";
				socket.on("data", d => (text += d));
				socket.on("close", () => {
					clearInterval(drip);
					resolve(text);
				});
			});
		});
		const tookMs = Date.now() - started;
		expect(tookMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 1_000);
		expect(tookMs).toBeLessThan(REQUEST_TIMEOUT_MS + 10_000);
		expect(answer).toMatch(/^HTTP\/1\.1 408|^$/);
		expect((await api.get(`/api/vendors/${vendorId}`)).status).toBe(200);
	}, 40_000);
});
