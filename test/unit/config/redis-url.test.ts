import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../config/index.ts";
import { redisTarget } from "../../../config/redis-url.ts";

const load = (REDIS_URL: string) => loadConfig({ DATA_DIR: ":memory:", REDIS_URL });

describe("REDIS_URL", () => {
	it("names one server: host, port, credentials, database, TLS", () => {
		expect(redisTarget("redis://127.0.0.1:6379")).toEqual({
			cluster: false,
			tls: false,
			nodes: [{ host: "127.0.0.1", port: 6379 }],
			username: undefined,
			password: undefined,
			db: 0,
		});
		expect(redisTarget("rediss://venta:s%40cret@redis.internal/2")).toMatchObject({
			tls: true,
			nodes: [{ host: "redis.internal", port: 6379 }],
			username: "venta",
			password: "s@cret",
			db: 2,
		});
		expect(redisTarget("redis://:only-password@[::1]:6380")).toMatchObject({
			nodes: [{ host: "::1", port: 6380 }],
			password: "only-password",
		});
	});

	it("names a Redis Cluster by its seed nodes, with credentials and TLS like one server", () => {
		expect(redisTarget("redis-cluster://venta:secret@r1:7000, r2:7001,r3")).toEqual({
			cluster: true,
			tls: false,
			nodes: [
				{ host: "r1", port: 7000 },
				{ host: "r2", port: 7001 },
				{ host: "r3", port: 6379 },
			],
			username: "venta",
			password: "secret",
			db: 0,
		});
		expect(redisTarget("rediss-cluster://r1:7000")).toMatchObject({ cluster: true, tls: true });
		expect(load("redis-cluster://127.0.0.1:7000,127.0.0.1:7001").redisUrl).toBe("redis-cluster://127.0.0.1:7000,127.0.0.1:7001");
	});

	it("refuses bad forms with one line that never repeats the URL (it may hold a password)", () => {
		for (const [url, problem] of [
			["http://r1:6379", /REDIS_URL must be redis:\/\/host:port/],
			["redis://r1:6379,r2:6379", /a Redis Cluster's URL starts with redis-cluster:\/\//],
			["redis-cluster://r1:7000/3", /database 0 only/],
			["redis-cluster://r1:70000", /a port from 1 to 65535/],
			["redis-cluster://user:hunter2@r1:7000,,r2", /each node as host:port/],
			["redis://r1:6379?db=1", /REDIS_URL must be/],
		] as const) {
			expect(() => load(url), url).toThrow(ConfigError);
			expect(() => load(url), url).toThrow(problem);
		}
		expect(() => load("redis-cluster://user:hunter2@r1:7000,,r2")).not.toThrow(/hunter2/);
	});
});
