import { randomUUID } from "node:crypto";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { loadConfig, type Config } from "../../config/index.ts";
import { createEngine } from "../../runtime/engine.ts";
import { mintDevToken } from "../../lib/auth.ts";
import { operatorCaller } from "../../lib/identity.ts";
import { Redis } from "ioredis";
import { freePort } from "./ports.ts";

export const TEST_DEV_SECRET = "test-dev-secret-0123456789abcdefghijklmnop";

/** The NATS server of the dev machine and CI (every test uses its own NAMESPACE). */
export const TEST_NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** The shared Redis of the dev machine and CI (every test keeps its keys under its own namespace). */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Deletes what a test left in the shared Redis: the keys matching `patterns`. */
export async function deleteRedisKeys(...patterns: string[]): Promise<void> {
	const redis = new Redis(TEST_REDIS_URL);
	try {
		const keys = (await Promise.all(patterns.map(p => redis.keys(p)))).flat();
		if (keys.length > 0) await redis.del(...keys);
	} finally {
		redis.disconnect();
	}
}

/** Calling options of an operator (as the REPL sends them): privileged actions refuse calls without an identity. */
export const AS_OPERATOR = { meta: { user: operatorCaller("tester") } };

/** A unique namespace keeps brokers of concurrent tests apart on the shared NATS server. */
export const uniqueNamespace = (label = "t") => `${label}-${randomUUID().slice(0, 8)}`;

export type TestEngine = {
	broker: ServiceBroker;
	config: Config;
	baseUrl: string;
	liveUrl: string;
	token(sub: string, ttlSeconds?: number): Promise<string>;
	stop(): Promise<void>;
};

/** Environment of an embedded engine on free ports, data in memory, quiet logs. */
export async function testEnv(overrides: Record<string, string | undefined> = {}): Promise<Record<string, string>> {
	const env: Record<string, string | undefined> = {
		NODE_ENV: "test",
		NAMESPACE: uniqueNamespace(),
		NODE_ID: `node-${randomUUID().slice(0, 8)}`,
		PORT: String(await freePort()),
		LIVE_PORT: String(await freePort()),
		DATA_DIR: ":memory:",
		LOG_LEVEL: "warn",
		AUTH_DEV_SECRET: TEST_DEV_SECRET,
		// The highest limits the config takes: no test is throttled unless it sets its own.
		RATE_LIMIT_READS_PER_MIN: "1000000",
		RATE_LIMIT_WRITES_PER_MIN: "1000000",
		...overrides,
	};
	return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Starts a real engine in this process (the same createEngine as `npm start`). */
export async function startTestEngine(
	overrides: Record<string, string | undefined> = {},
	extra: ServiceSchema<any, any, any, any>[] = []
): Promise<TestEngine> {
	const config = loadConfig(await testEnv(overrides));
	const broker = await createEngine(config, extra);
	await broker.start();
	return {
		broker,
		config,
		baseUrl: `http://127.0.0.1:${config.port}`,
		liveUrl: `ws://127.0.0.1:${config.livePort}/live`,
		token: (sub, ttl) => mintDevToken(config.devSecret ?? TEST_DEV_SECRET, sub, ttl),
		stop: () => broker.stop(),
	};
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(
	check: () => T | Promise<T>,
	{ timeout = 10_000, interval = 50, what = "condition" } = {}
): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeout;
	let last: unknown;
	while (Date.now() < deadline) {
		try {
			const value = await check();
			if (value) return value as NonNullable<T>;
		} catch (err) {
			last = err;
		}
		await new Promise(r => setTimeout(r, interval));
	}
	throw new Error(`Timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
