import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { RATE_LIMIT_WINDOW_MS } from "../../gateways/api/rate-limit.ts";
import { mintDevToken } from "../../lib/auth.ts";
import { deleteRedisKeys, TEST_DEV_SECRET, TEST_NATS_URL, TEST_REDIS_URL, testEnv, uniqueNamespace, waitFor } from "../helpers/engine.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { startOwnRedisCluster, type OwnRedisCluster } from "../helpers/servers.ts";

const READS = 10;
const WRITES = 3;

type Replica = { proc: NodeProcess; url: string };

/**
 * An API replica in its own process, sharing the namespace and the Redis of the other. `services`:
 * the stores on the embedded NeDB run on one replica only (a second would refuse to start).
 */
async function startReplica(namespace: string, nodeId: string, redisUrl: string, services: string): Promise<Replica> {
	const env = await testEnv({
		NATS_URL: TEST_NATS_URL,
		REDIS_URL: redisUrl,
		NAMESPACE: namespace,
		NODE_ID: nodeId,
		SERVICES: services,
		RATE_LIMIT_READS_PER_MIN: String(READS),
		RATE_LIMIT_WRITES_PER_MIN: String(WRITES),
	});
	const proc = spawnNode("server.ts", env);
	const url = `http://127.0.0.1:${env.PORT}`;
	// Ready includes the REST routes; nothing before the test spends a budget.
	await waitForHttp(`${url}/health/ready`, 30_000).catch(err => {
		throw new Error(`${nodeId} did not get ready: ${err.message}\n${proc.output()}`);
	});
	// A replica without vendors routes /api/vendors once it has seen the other's (its OpenAPI
	// document follows its routes and spends no budget).
	await waitFor(async () => (await (await fetch(`${url}/openapi.json`)).text()).includes('"/api/vendors"'), {
		timeout: 30_000,
		what: `${nodeId} routing /api/vendors`,
	});
	return { proc, url };
}

/**
 * The Redis store's windows are aligned on the clock minute, the same on every replica. A run
 * that would start near the end of one waits for the next, so it never straddles two.
 */
async function awayFromWindowEnd(neededMs: number): Promise<void> {
	const left = RATE_LIMIT_WINDOW_MS - (Date.now() % RATE_LIMIT_WINDOW_MS);
	if (left < neededMs) await new Promise(resolve => setTimeout(resolve, left + 100));
}

/** Where the replicas count: the shared Redis, or a Redis Cluster of this file's own; and the keys they wrote. */
type Counters = { label: string; start(): Promise<string>; keys(pattern: string): Promise<string[]>; stop(): Promise<void> };

const sharedRedis: Counters = {
	label: "Redis",
	start: async () => TEST_REDIS_URL,
	async keys(pattern) {
		const redis = new Redis(TEST_REDIS_URL);
		try {
			return await redis.keys(pattern);
		} finally {
			redis.disconnect();
		}
	},
	stop: async () => undefined,
};

let ownCluster: OwnRedisCluster | undefined;
const redisCluster: Counters = {
	label: "a three-master Redis Cluster",
	async start() {
		ownCluster = await startOwnRedisCluster(3);
		return ownCluster.url;
	},
	keys: async pattern => (await ownCluster!.keys(pattern)).flat(),
	stop: async () => ownCluster?.stop(),
};

describe.each([sharedRedis, redisCluster])("REST rate limits across two API replicas sharing $label", counters => {
	const namespace = uniqueNamespace("ratelimit");
	let a: Replica;
	let b: Replica;
	beforeAll(async () => {
		const url = await counters.start();
		[a, b] = await Promise.all([
			startReplica(namespace, `${namespace}-a`, url, "api,users,vendors,discovery"),
			startReplica(namespace, `${namespace}-b`, url, "api,discovery"),
		]);
	});
	afterAll(async () => {
		await Promise.all([a?.proc.kill(), b?.proc.kill()]);
		if (counters === sharedRedis) await deleteRedisKeys(`${namespace}:*`, `${namespace}-*`);
		await counters.stop();
	});

	it("gives each caller one combined budget: reads and writes by address, reads by user", async () => {
		await awayFromWindowEnd(15_000);
		const read = (replica: Replica, token?: string) =>
			fetch(`${replica.url}/api/vendors`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

		// 6 anonymous reads on A, 4 more on B: then both refuse this address.
		for (let i = 1; i <= READS; i++) {
			const res = await read(i <= 6 ? a : b);
			expect(res.status, `read ${i}`).toBe(200);
			expect(res.headers.get("ratelimit-remaining"), `read ${i}`).toBe(String(READS - i));
		}
		for (const replica of [b, a]) {
			const refused = await read(replica);
			expect(refused.status).toBe(429);
			expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
			expect(await refused.json()).toMatchObject({ code: 429, type: "RATE_LIMITED" });
		}

		// A signed-in user's reads count against the user (this address is spent), on both replicas alike.
		const alice = await mintDevToken(TEST_DEV_SECRET, "user_rate_cluster_alice");
		for (let i = 1; i <= READS; i++) expect((await read(i % 2 ? a : b, alice)).status, `alice read ${i}`).toBe(200);
		expect((await read(b, alice)).status).toBe(429);
		expect((await read(a, await mintDevToken(TEST_DEV_SECRET, "user_rate_cluster_bob"))).status).toBe(200);

		// Writes have their own budget: 2 on A and 1 on B (each answered 401: no token), then 429.
		const write = (replica: Replica) =>
			fetch(`${replica.url}/api/vendors`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
		for (const replica of [a, a, b]) expect((await write(replica)).status).toBe(401);
		expect((await write(b)).status).toBe(429);

		// The counters are Redis keys under the namespace.
		const keys = await counters.keys(`${namespace}:rate-limit:*`);
		expect(keys.some(k => k.startsWith(`${namespace}:rate-limit:reads:`) && k.endsWith(":ip:127.0.0.1"))).toBe(true);
		expect(keys.some(k => k.startsWith(`${namespace}:rate-limit:reads:`) && k.endsWith(":user:user_rate_cluster_alice"))).toBe(true);
		expect(keys.some(k => k.startsWith(`${namespace}:rate-limit:writes:`) && k.endsWith(":ip:127.0.0.1"))).toBe(true);
	}, 90_000);
});
