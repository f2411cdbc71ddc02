import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitForRoutes } from "../../helpers/live.ts";
import { createRestClient, type RestClient } from "../../../packages/client/src/index.ts";

/** The SDK's REST client (openapi-fetch over the types generated from docs/openapi.json) against a real engine. */
describe("@venta/client REST client", () => {
	let engine: TestEngine;
	let rest: RestClient;
	let tokens = 0;

	beforeAll(async () => {
		engine = await startTestEngine();
		await waitForRoutes(engine.baseUrl);
		rest = createRestClient({
			baseUrl: engine.baseUrl,
			getToken: () => {
				tokens++;
				return engine.token("user_rest_sdk");
			},
		});
	});
	afterAll(() => engine?.stop());

	it("sends the provider's token as a bearer token on every request", async () => {
		const before = tokens;
		const { data, error, response } = await rest.GET("/api/me");
		expect(error).toBeUndefined();
		expect(response.status).toBe(200);
		expect(data?.id).toBe("user_rest_sdk");
		expect(tokens).toBe(before + 1);
	});

	it("types bodies, path parameters and answers: onboard a vendor, activate it, read it back", async () => {
		const created = await rest.POST("/api/vendors", { body: { name: "SDK Cart", categories: ["coffee"] } });
		expect(created.response.status).toBe(201);
		const id = created.data!.id;
		const active = await rest.POST("/api/vendors/{id}/status", { params: { path: { id } }, body: { status: "active" } });
		expect(active.data?.status).toBe("active");
		const read = await rest.GET("/api/vendors/{id}", { params: { path: { id } } });
		expect(read.data).toMatchObject({ id, name: "SDK Cart", categories: ["coffee"], status: "active" });
		const located = await rest.POST("/api/vendors/{id}/location", { params: { path: { id } }, body: { lat: 52.52, lng: 13.405 } });
		expect(located.response.status).toBe(200);
		const nearby = await rest.GET("/api/discovery/nearby", { params: { query: { lat: 52.52, lng: 13.405, radius: 500, online: true } } });
		expect(nearby.data?.rows.map(r => r.id)).toContain(id);
	});

	it("answers an error in the API's one error body, typed as such", async () => {
		const missing = await rest.GET("/api/vendors/{id}", { params: { path: { id: "ven_doesnotexist000000" } } });
		expect(missing.data).toBeUndefined();
		expect(missing.response.status).toBe(404);
		expect(missing.error).toMatchObject({ type: "NOT_FOUND", code: 404 });
		const anonymous = createRestClient({ baseUrl: engine.baseUrl });
		const refused = await anonymous.GET("/api/me");
		expect(refused.response.status).toBe(401);
		expect(refused.error?.name).toBe("MoleculerClientError");
	});
});
