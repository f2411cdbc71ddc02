import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisFenceState } from "../../services/geo/fences/redis.state.ts";
import { startTestEngine, uniqueNamespace, waitFor, type TestEngine } from "../helpers/engine.ts";
import { fenceStateSuite } from "../helpers/fences.ts";
import { activeVendor } from "../helpers/live.ts";
import { waitForMarketplaceRoutes } from "../helpers/rest.ts";
import { startOwnRedisCluster, type OwnRedisCluster } from "../helpers/servers.ts";

/** What else uses REDIS_URL, on a three-master Redis Cluster: the fence state and Moleculer's cacher. */
let cluster: OwnRedisCluster;
beforeAll(async () => {
	cluster = await startOwnRedisCluster(3);
});
afterAll(() => cluster?.stop());

const fencePrefix = `${uniqueNamespace("fence-state")}:geo:`;
fenceStateSuite("redis-cluster", () => new RedisFenceState(cluster.url, fencePrefix, 60_000));

describe("fence state on the cluster", () => {
	it("forgets a removed fence for every vendor, whatever slot each vendor's state is in", async () => {
		const state = new RedisFenceState(cluster.url, fencePrefix, 60_000);
		try {
			const rule = { on: ["enter" as const], minIntervalMs: 0, dwellMs: 0 };
			const vendors = Array.from({ length: 12 }, (_, i) => `ven_forget_${i}`);
			for (const v of vendors) expect((await state.step("zone_gone", v, "in", 1_000, rule)).fired).toBe("enter");
			await state.step("zone_kept", vendors[0]!, "in", 1_000, rule);
			const stateKeys = await cluster.keys(`${fencePrefix}{f:ven_forget_*}:*`);
			expect(stateKeys.every(onMaster => onMaster.length > 0)).toBe(true);
			await state.forget("zone_gone");
			for (const v of vendors) expect(await state.insideOf(v), v).toEqual(v === vendors[0] ? ["zone_kept"] : []);
			expect((await cluster.keys(`${fencePrefix}*zone_gone*`)).flat()).toEqual([]);
		} finally {
			await state.close();
		}
	});
});

describe("Moleculer's Redis cacher on the cluster", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api,users,vendors", REDIS_URL: cluster.url });
		await waitForMarketplaceRoutes(engine.baseUrl);
	});
	afterAll(() => engine?.stop());

	it("caches reads on every master and cleans them all after a write", async () => {
		const token = await engine.token("user_cache_owner");
		const ids: string[] = [];
		for (let i = 0; i < 24; i++) ids.push(await activeVendor(engine.baseUrl, token, `Stall ${i}`));
		const read = async (id: string) => (await (await fetch(`${engine.baseUrl}/api/vendors/${id}`)).json()) as { name: string };
		for (const id of ids) await read(id);
		const cached = () => cluster.keys(`${engine.config.namespace}-cache-vendors.get:*`);
		// Several keys a master, in different slots: one DEL of them all would be refused.
		expect((await cached()).every(onMaster => onMaster.length >= 2)).toBe(true);
		expect((await cached()).flat()).toHaveLength(ids.length);

		const renamed = await fetch(`${engine.baseUrl}/api/vendors/${ids[5]}`, {
			method: "PATCH",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
			body: JSON.stringify({ name: "Renamed Stall" }),
		});
		expect(renamed.status).toBe(200);
		await waitFor(async () => (await cached()).flat().length === 0, { what: "every cached vendors.get cleaned" });
		expect(await read(ids[5]!)).toMatchObject({ name: "Renamed Stall" });
		const again = (await cached()).flat();
		expect(again).toHaveLength(1);
		expect(again[0]).toContain(ids[5]);
	}, 60_000);
});
