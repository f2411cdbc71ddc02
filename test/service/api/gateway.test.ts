import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitForHttp } from "../../helpers/process.ts";

describe("REST gateway basics", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api" });
	});
	afterAll(() => engine?.stop());

	it("answers liveness and readiness", async () => {
		const live = await fetch(`${engine.baseUrl}/health/live`);
		expect(live.status).toBe(200);
		// Ready only once the REST routes exist, a moment after start.
		const ready = await waitForHttp(`${engine.baseUrl}/health/ready`);
		expect(await ready.json()).toMatchObject({ ready: true, checks: { broker: "ok", api: "ok" } });
	});

	it("serves Prometheus metrics", async () => {
		const res = await fetch(`${engine.baseUrl}/metrics`);
		expect(res.headers.get("content-type")).toContain("text/plain");
		expect(await res.text()).toMatch(/^moleculer_registry_nodes_total\{/m);
	});

	it("answers unknown routes with the JSON error format", async () => {
		const res = await fetch(`${engine.baseUrl}/api/nothing-here`);
		expect(res.status).toBe(404);
		expect(await res.json()).toEqual({ name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" });
		// moleculer-web's own route listing is not published.
		expect((await fetch(`${engine.baseUrl}/api/api/list-aliases`)).status).toBe(404);
	});

	it("allows cross-origin calls", async () => {
		const res = await fetch(`${engine.baseUrl}/health/live`, {
			method: "OPTIONS",
			headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET" },
		});
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
	});
});
