import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from "vitest";
import { mintDevToken } from "../../../lib/auth.ts";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { freePort } from "../../helpers/ports.ts";
import { restClient, type RestResponse } from "../../helpers/rest.ts";
import { newWhsec, svixHeaders } from "../../helpers/webhooks.ts";

const READS = 5;
const WRITES = 3;
const METRICS_TOKEN = "metrics-token-for-the-rest-test";

/** The client address as the trusted proxy reports it (CLIENT_IP_HEADER=x-forwarded-for). */
const from = (address: string) => ({ "X-Forwarded-For": address });

const rateLimitHeaders = (res: RestResponse | Response) => ({
	limit: res.headers.get("ratelimit-limit"),
	remaining: res.headers.get("ratelimit-remaining"),
	reset: res.headers.get("ratelimit-reset"),
});

/**
 * The REST routes answer once moleculer-web has built them; each poll comes from an address of
 * its own, so waiting spends none of the budgets under test.
 */
async function waitForRoutes(api: ReturnType<typeof restClient>): Promise<void> {
	let n = 0;
	await waitFor(async () => (await api.request("GET", "/api/vendors", { headers: from(`192.0.2.${++n}`) })).status === 200, {
		what: "REST routes",
	});
}

/**
 * moleculer-web's MemoryStore counts in windows that start when the engine does, so this file,
 * which runs in seconds right after its engine started, never sees a window end.
 */
describe("REST rate limits", () => {
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	const webhookSecret = newWhsec();
	beforeAll(async () => {
		engine = await startTestEngine({
			SERVICES: "api,users,vendors,webhooks",
			RATE_LIMIT_READS_PER_MIN: String(READS),
			RATE_LIMIT_WRITES_PER_MIN: String(WRITES),
			CLIENT_IP_HEADER: "x-forwarded-for",
			CLERK_WEBHOOK_SECRET: webhookSecret,
		});
		api = restClient(engine.baseUrl);
		await waitForRoutes(api);
	});
	afterAll(() => engine?.stop());

	it(`gives an anonymous address ${READS} reads a minute, then 429 with Retry-After and the RateLimit headers`, async () => {
		const read = (address: string) => api.request("GET", "/api/vendors", { headers: from(address) });
		for (let i = 1; i <= READS; i++) {
			const res = await read("203.0.113.1");
			expect(res.status).toBe(200);
			expect(rateLimitHeaders(res)).toEqual({ limit: String(READS), remaining: String(READS - i), reset: expect.stringMatching(/^\d+$/) });
		}
		const refused = await read("203.0.113.1");
		expect(refused.status).toBe(429);
		expect(refused.body).toEqual({
			name: "MoleculerClientError",
			message: expect.stringMatching(/^Too many requests; retry in \d+ s$/),
			code: 429,
			type: "RATE_LIMITED",
		});
		const retryAfter = Number(refused.headers.get("retry-after"));
		expect(retryAfter).toBeGreaterThanOrEqual(1);
		expect(retryAfter).toBeLessThanOrEqual(60);
		expect(rateLimitHeaders(refused)).toEqual({ limit: String(READS), remaining: "0", reset: String(retryAfter) });
		expect(refused.headers.get("x-rate-limit-limit")).toBeNull();

		// What a client writes before the proxy's own entry makes no new caller.
		expect((await read("198.51.100.9, 203.0.113.1")).status).toBe(429);
		// Another address has a budget of its own, and writes have theirs (this one needs a token: 401).
		expect((await read("203.0.113.2")).status).toBe(200);
		expect((await api.request("POST", "/api/vendors", { body: { name: "Cart" }, headers: from("203.0.113.1") })).status).toBe(401);
	});

	it("counts a signed-in user's writes by the user, from any address; two users do not share a budget", async () => {
		const alice = await engine.token("user_rate_alice");
		const bob = await engine.token("user_rate_bob");
		const write = (token: string, address: string, firstName: string) =>
			api.request("PATCH", "/api/me", { token, body: { firstName }, headers: from(address) });
		for (let i = 1; i <= WRITES; i++) {
			const res = await write(alice, `203.0.113.${10 + i}`, `Alice${i}`);
			expect(res.status).toBe(200);
			expect(rateLimitHeaders(res)).toMatchObject({ limit: String(WRITES), remaining: String(WRITES - i) });
		}
		const refused = await write(alice, "203.0.113.19", "Alice4");
		expect(refused.status).toBe(429);
		expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);

		expect((await write(bob, "203.0.113.11", "Bob")).status).toBe(200);
		// Her reads are a budget of their own, and hers, not her addresses'.
		const me = await api.request("GET", "/api/me", { token: alice, headers: from("203.0.113.11") });
		expect(me.status).toBe(200);
		expect(me.body.firstName).toBe(`Alice${WRITES}`);
		expect(rateLimitHeaders(me)).toMatchObject({ limit: String(READS), remaining: String(READS - 1) });
		const anonymous = await api.request("GET", "/api/vendors", { headers: from("203.0.113.11") });
		expect(rateLimitHeaders(anonymous)).toMatchObject({ remaining: String(READS - 1) });
	});

	it("counts a forged token against its address: fake users rotated by an attacker get no budget of their own", async () => {
		const forged = (i: number) => mintDevToken("not-the-engine-secret-0123456789abcdef", `user_fake_${i}`);
		for (let i = 1; i <= WRITES; i++) {
			const res = await api.request("POST", "/api/vendors", {
				token: await forged(i),
				body: { name: "Fake" },
				headers: from("203.0.113.20"),
			});
			expect(res.status).toBe(401);
		}
		const refused = await api.request("POST", "/api/vendors", {
			token: await forged(99),
			body: { name: "Fake" },
			headers: from("203.0.113.20"),
		});
		expect(refused.status).toBe(429);
	});

	it("never limits webhooks, health, metrics, the map page's config or its files", async () => {
		const address = from("203.0.113.30");
		for (let i = 0; i < 2 * READS + 1; i++) {
			for (const path of ["/health/live", "/health/ready", "/metrics", "/config.json", "/", "/app.js"]) {
				const res = await fetch(`${engine.baseUrl}${path}`, { headers: address });
				expect(res.status, path).toBe(200);
				expect(res.headers.get("ratelimit-limit"), path).toBeNull();
			}
			const body = JSON.stringify({ type: "session.created", object: "event", data: { id: `sess_${i}` } });
			const webhook = await fetch(`${engine.baseUrl}/webhooks/clerk`, {
				method: "POST",
				body,
				headers: { ...svixHeaders(body, { secret: webhookSecret }), ...address },
			});
			expect(webhook.status).toBe(200);
			expect(webhook.headers.get("ratelimit-limit")).toBeNull();
		}
		// The address still has its whole /api budget.
		const read = await api.request("GET", "/api/vendors", { headers: address });
		expect(rateLimitHeaders(read)).toMatchObject({ remaining: String(READS - 1) });
	});
});

describe("REST rate limits with their Redis unreachable", () => {
	let engine: TestEngine;
	let warn: MockInstance;
	beforeAll(async () => {
		engine = await startTestEngine({
			SERVICES: "api,users,vendors",
			REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
			RATE_LIMIT_READS_PER_MIN: "2",
			// The cacher's connection errors would fill the output; the store's warning is watched below.
			LOG_LEVEL: "fatal",
		});
		warn = vi.spyOn(engine.broker.getLocalService("api")!.logger, "warn");
		await waitFor(async () => (await fetch(`${engine.baseUrl}/api/vendors`)).status === 200, { what: "REST routes" });
	});
	afterAll(() => engine?.stop());

	it("lets requests through uncounted (fails open) instead of failing them, and says so once in a while", async () => {
		for (let i = 0; i < 5; i++) {
			const res = await fetch(`${engine.baseUrl}/api/vendors`);
			expect(res.status).toBe(200);
			expect(rateLimitHeaders(res)).toMatchObject({ limit: "2", remaining: "2" });
		}
		expect(warn.mock.calls.filter(([, message]) => String(message).startsWith("Rate-limit store unavailable"))).toHaveLength(1);
	});
});

describe("METRICS_TOKEN", () => {
	let guarded: TestEngine;
	let open: TestEngine;
	beforeAll(async () => {
		[guarded, open] = await Promise.all([
			startTestEngine({ SERVICES: "api,live", METRICS_TOKEN }),
			startTestEngine({ SERVICES: "api,live" }),
		]);
	});
	afterAll(() => Promise.all([guarded?.stop(), open?.stop()]));

	const ports = (engine: TestEngine) => [engine.baseUrl, `http://127.0.0.1:${engine.config.livePort}`];

	it("guards /metrics on both ports with the bearer token; health stays open", async () => {
		for (const base of ports(guarded)) {
			const metrics = (authorization?: string) =>
				fetch(`${base}/metrics`, { headers: authorization ? { Authorization: authorization } : {} });
			for (const refused of [undefined, "Bearer wrong-token", `Bearer ${METRICS_TOKEN}x`, METRICS_TOKEN]) {
				const res = await metrics(refused);
				expect(res.status, `${base} ${refused}`).toBe(401);
				expect(res.headers.get("www-authenticate")).toBe("Bearer");
				expect(await res.json()).toEqual({
					name: "MoleculerClientError",
					message: "A valid metrics token is required",
					code: 401,
					type: "INVALID_TOKEN",
				});
			}
			const allowed = await metrics(`Bearer ${METRICS_TOKEN}`);
			expect(allowed.status, base).toBe(200);
			expect(await allowed.text()).toMatch(/^moleculer_registry_nodes_total\{/m);
			expect((await fetch(`${base}/health/live`)).status, base).toBe(200);
		}
	});

	it("leaves /metrics public on both ports when unset", async () => {
		for (const base of ports(open)) {
			const res = await fetch(`${base}/metrics`);
			expect(res.status, base).toBe(200);
			expect(await res.text()).toMatch(/^moleculer_registry_nodes_total\{/m);
		}
	});
});
