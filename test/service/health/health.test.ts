import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../config/index.ts";
import { createEngine } from "../../../runtime/engine.ts";
import { checkReadiness } from "../../../runtime/health.ts";
import type { Drainable } from "../../../runtime/lifecycle.ts";
import { startTestEngine, testEnv, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { spawnNode } from "../../helpers/process.ts";

const METRICS_TOKEN = "metrics-token-0123456789";

/** The image's HEALTHCHECK, run as Docker runs it, with a node's environment: its exit code. */
const healthcheck = (env: Record<string, string>) => spawnNode("scripts/healthcheck.ts", env).exited;

/** A store whose answer the test decides, as any service with `checkStore` counts for readiness. */
const storeState = { down: false };
const switchableStore = {
	name: "switchable-store",
	methods: {
		async checkStore() {
			if (storeState.down) throw new Error("store down");
		},
	},
};

describe("health server of a node that runs neither gateway", () => {
	let env: Record<string, string>;
	let geo: TestEngine;
	beforeAll(async () => {
		env = await testEnv({ SERVICES: "geo" });
		geo = await startTestEngine(env, [switchableStore]);
	});
	afterAll(() => geo?.stop());

	it("answers liveness and readiness on PORT, with the checks", async () => {
		const live = await fetch(`${geo.baseUrl}/health/live`);
		expect(live.status).toBe(200);
		expect(await live.json()).toEqual({ status: "ok", nodeID: geo.broker.nodeID });
		const ready = await fetch(`${geo.baseUrl}/health/ready`);
		expect(ready.status).toBe(200);
		expect(ready.headers.get("content-type")).toContain("application/json");
		expect(await ready.json()).toEqual({
			ready: true,
			nodeID: geo.broker.nodeID,
			checks: { broker: "ok", geo: "ok", $health: "ok", "switchable-store": "ok" },
		});
		expect(await healthcheck(env)).toBe(0);
	});

	it("answers 503 while a store is down, and the healthcheck fails", async () => {
		storeState.down = true;
		try {
			const ready = await fetch(`${geo.baseUrl}/health/ready`);
			expect(ready.status).toBe(503);
			expect(await ready.json()).toMatchObject({ ready: false, checks: { "switchable-store": "store down", geo: "ok" } });
			expect(await healthcheck(env)).toBe(1);
		} finally {
			storeState.down = false;
		}
	});

	it("serves the node's Prometheus metrics", async () => {
		const res = await fetch(`${geo.baseUrl}/metrics`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("text/plain");
		expect(await res.text()).toMatch(/^moleculer_registry_nodes_total\{/m);
	});

	it("answers anything else with the one 404 body", async () => {
		for (const [method, path] of [
			["GET", "/"],
			["GET", "/api/vendors"],
			["GET", "/health/ready/extra"],
			["POST", "/health/live"],
		] as const) {
			const res = await fetch(`${geo.baseUrl}${path}`, { method });
			expect(res.status, `${method} ${path}`).toBe(404);
			expect(await res.json()).toEqual({ name: "MoleculerClientError", message: "Not found", code: 404, type: "NOT_FOUND" });
		}
	});

	it("refuses to start on a PORT another process listens on", async () => {
		const second = await createEngine(loadConfig(await testEnv({ SERVICES: "geo", PORT: String(geo.config.port) })));
		try {
			await expect(second.start()).rejects.toThrow(`PORT ${geo.config.port} is not available on 127.0.0.1`);
		} finally {
			await second.stop().catch(() => undefined);
		}
		expect(await (await fetch(`${geo.baseUrl}/health/live`)).json()).toMatchObject({ nodeID: geo.broker.nodeID });
	});

	it("stops accepting when shutdown begins, and reports itself draining", async () => {
		const engine = await startTestEngine({ SERVICES: "geo" });
		try {
			expect((await fetch(`${engine.baseUrl}/health/ready`)).status).toBe(200);
			// What runtime/lifecycle.ts does first on SIGTERM.
			await Promise.all(engine.broker.services.map(s => (s as unknown as Partial<Drainable>).stopAccepting?.call(s)));
			await expect(fetch(`${engine.baseUrl}/health/live`)).rejects.toThrow();
			expect(await checkReadiness(engine.broker)).toMatchObject({ ready: false, checks: { $health: "draining" } });
		} finally {
			await engine.stop();
		}
	});
});

describe("health server with METRICS_TOKEN", () => {
	let env: Record<string, string>;
	let webhooks: TestEngine;
	beforeAll(async () => {
		env = await testEnv({ SERVICES: "webhooks", METRICS_TOKEN });
		webhooks = await startTestEngine(env);
	});
	afterAll(() => webhooks?.stop());

	it("answers readiness with the webhooks store, and the healthcheck passes", async () => {
		const ready = await fetch(`${webhooks.baseUrl}/health/ready`);
		expect(ready.status).toBe(200);
		expect(await ready.json()).toMatchObject({ ready: true, checks: { broker: "ok", webhooks: "ok", $health: "ok" } });
		expect(await healthcheck(env)).toBe(0);
	});

	it("serves /metrics only with the bearer token", async () => {
		const metrics = (authorization?: string) =>
			fetch(`${webhooks.baseUrl}/metrics`, { headers: authorization ? { Authorization: authorization } : {} });
		for (const refused of [undefined, "Bearer wrong-token", `Bearer ${METRICS_TOKEN}x`, METRICS_TOKEN]) {
			const res = await metrics(refused);
			expect(res.status, String(refused)).toBe(401);
			expect(res.headers.get("www-authenticate")).toBe("Bearer");
			expect(await res.json()).toMatchObject({ code: 401, type: "INVALID_TOKEN" });
		}
		const allowed = await metrics(`Bearer ${METRICS_TOKEN}`);
		expect(allowed.status).toBe(200);
		expect(await allowed.text()).toMatch(/^moleculer_registry_nodes_total\{/m);
		// Probes stay open: an orchestrator has no token.
		expect((await fetch(`${webhooks.baseUrl}/health/live`)).status).toBe(200);
	});
});

describe("the healthcheck on nodes with a gateway", () => {
	it("probes PORT on a node with the REST gateway (LIVE_PORT then has no server)", async () => {
		const env = await testEnv({ SERVICES: "api" });
		const engine = await startTestEngine(env);
		try {
			// The REST gateway is ready once its routes exist, a moment after start.
			await waitFor(async () => (await healthcheck(env)) === 0, { what: "the healthcheck to pass" });
			expect((await fetch(`${engine.baseUrl}/health/ready`)).status).toBe(200);
		} finally {
			await engine.stop();
		}
	});

	it("probes LIVE_PORT on a node with the live gateway but not the REST one; PORT then has no server", async () => {
		const env = await testEnv({ SERVICES: "geo,live" });
		const engine = await startTestEngine(env);
		try {
			expect(await healthcheck(env)).toBe(0);
			await expect(fetch(`${engine.baseUrl}/health/live`)).rejects.toThrow();
		} finally {
			await engine.stop();
		}
	});

	it("fails when nothing answers", async () => {
		expect(await healthcheck(await testEnv({ SERVICES: "geo" }))).toBe(1);
	});
});
