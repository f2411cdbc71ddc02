import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { cellToBoundary, cellToChildren, cellToLatLng, gridDisk, latLngToCell } from "h3-js";
import { distanceM } from "../../lib/geo.ts";
import type { NearbyHit, StoredPosition } from "../../services/geo/contract.ts";
import { checkReadiness } from "../../runtime/health.ts";
import { RedisGeoStore } from "../../services/geo/redis.store.ts";
import { GeoKeys, SHARD_RES } from "../../services/geo/redis/layout.ts";
import { startTestEngine, uniqueNamespace, waitFor } from "../helpers/engine.ts";
import { geoServiceSuite, updateManySuite } from "../helpers/geo-suites.ts";
import { startOwnRedisCluster, type OwnRedisCluster } from "../helpers/servers.ts";

const H3_RES = 8;
const BERLIN = { west: 13.1, south: 52.36, east: 13.74, north: 52.66 };

let cluster: OwnRedisCluster;
beforeAll(async () => {
	cluster = await startOwnRedisCluster(3);
});
afterAll(() => cluster?.stop());

/** The geo service on a three-master Redis Cluster: the same suites as on one Redis and embedded. */
geoServiceSuite("redis-cluster", () => cluster.url);
updateManySuite("redis-cluster", () => cluster.url);

const position = (vendorId: string, lat: number, lng: number, ts: number): StoredPosition => ({
	vendorId,
	lat,
	lng,
	ts,
	cell: latLngToCell(lat, lng, H3_RES),
});
const center = (cell: string) => {
	const [lat, lng] = cellToLatLng(cell);
	return { lat, lng };
};
/** A cell's box, as heatmap bboxes are. */
const boxOf = (cell: string): [number, number, number, number] => {
	const corners = cellToBoundary(cell);
	const lats = corners.map(c => c[0]);
	const lngs = corners.map(c => c[1]);
	return [Math.min(...lngs), Math.min(...lats), Math.max(...lngs), Math.max(...lats)];
};

describe("the Redis geo store's shards on a three-master cluster", () => {
	const prefix = `${uniqueNamespace("shards")}:geo:`;
	const keys = new GeoKeys(prefix, H3_RES);
	let store: RedisGeoStore;
	/** Two neighbouring shards served by different masters. */
	let from: string;
	let to: string;

	beforeAll(async () => {
		store = new RedisGeoStore(cluster.url, prefix, H3_RES);
		const start = latLngToCell(52.52, 13.405, SHARD_RES);
		const startMaster = await cluster.masterOf(keys.shard(start).pos);
		for (const next of gridDisk(start, 1)) {
			if ((await cluster.masterOf(keys.shard(next).pos)) !== startMaster) {
				[from, to] = [start, next];
				break;
			}
		}
		expect(to).toBeDefined();
	});
	afterAll(() => store?.close());

	it("spreads a city's positions over every master, each shard's keys in one slot", async () => {
		const ts = Date.now();
		const spots = Array.from({ length: 300 }, (_, i) =>
			position(
				`city-${i}`,
				BERLIN.south + ((i * 0.618) % 1) * (BERLIN.north - BERLIN.south),
				BERLIN.west + ((i * 0.414) % 1) * (BERLIN.east - BERLIN.west),
				ts
			)
		);
		const results = await store.applyMany(spots, ts, 50);
		expect(results.every(r => r.applied)).toBe(true);
		const shardKeys = await cluster.keys(`${prefix}{8*`);
		// Berlin spans dozens of shards: every master holds some.
		for (const onMaster of shardKeys) expect(onMaster.length).toBeGreaterThan(0);
		const masterOfShard = new Map<string, number>();
		shardKeys.forEach((onMaster, master) => {
			for (const key of onMaster) {
				const shard = key.slice(prefix.length + 1, key.indexOf("}"));
				expect(masterOfShard.get(shard) ?? master, key).toBe(master);
				masterOfShard.set(shard, master);
			}
		});
		expect(masterOfShard.size).toBeGreaterThan(20);
		// The vendors' records spread too.
		for (const onMaster of await cluster.keys(`${prefix}{v*}:pos`)) expect(onMaster.length).toBeGreaterThan(0);
		const inCity = await store.inBBox([BERLIN.west, BERLIN.south, BERLIN.east, BERLIN.north]);
		expect(inCity.map(p => p.vendorId).sort()).toEqual(spots.map(p => p.vendorId).sort());
	});

	it("moves a vendor across a shard border without a trace left in the old shard", async () => {
		const a = center(from);
		const b = center(to);
		const t0 = Date.now();
		const steps = 12;
		for (let i = 0; i <= steps; i++) {
			const f = i / steps;
			await store.apply(position("ven_driver", a.lat + (b.lat - a.lat) * f, a.lng + (b.lng - a.lng) * f, t0 + i), t0 + i, 50);
		}
		expect(await store.get("ven_driver")).toMatchObject({ online: true, cell: latLngToCell(b.lat, b.lng, H3_RES) });
		expect((await store.nearby(a.lat, a.lng, 1_000, 50)).map(h => h.vendorId)).not.toContain("ven_driver");
		expect((await store.inCells(cellToChildren(from, H3_RES))).map(p => p.vendorId)).not.toContain("ven_driver");
		expect((await store.inBBox(boxOf(from))).map(p => p.vendorId)).not.toContain("ven_driver");
		expect((await store.inCells([latLngToCell(b.lat, b.lng, H3_RES)])).map(p => p.vendorId)).toEqual(["ven_driver"]);
		// Of the old shard's keys, only the tombstone (id and time) names the vendor: no position, GEO entry or cell set.
		expect(await keysNaming(from, "ven_driver")).toEqual([keys.shard(from).gone]);
		const now = keys.shard(to);
		expect(await keysNaming(to, "ven_driver")).toEqual([now.cellPrefix + latLngToCell(b.lat, b.lng, H3_RES), now.geo, now.pos].sort());
		expect((await cluster.keys(keys.vendor("ven_driver").left)).flat()).toEqual([]);
	});

	it("keeps each vendor in one shard only while three writers race its positions across the border", async () => {
		const writers = [store, new RedisGeoStore(cluster.url, prefix, H3_RES), new RedisGeoStore(cluster.url, prefix, H3_RES)];
		try {
			const a = center(from);
			const b = center(to);
			const racers = Array.from({ length: 50 }, (_, v) => `ven_racer_${v}`);
			const t0 = Date.now();
			for (let round = 1; round <= 20; round++) {
				const ts = t0 + round * 10;
				// Writer w sends ts + w: the newest lands in B on most rounds, in A on every third.
				const sides = round % 3 === 0 ? [b, b, a] : [a, a, b];
				await Promise.all(
					writers.map((writer, w) =>
						writer.applyMany(
							racers.map(id => position(id, sides[w]!.lat, sides[w]!.lng, ts + w)),
							ts,
							50
						)
					)
				);
				const newest = round % 3 === 0 ? from : to;
				const inA = new Set((await store.inCells([latLngToCell(a.lat, a.lng, H3_RES)])).map(p => p.vendorId));
				const inB = new Set((await store.inCells([latLngToCell(b.lat, b.lng, H3_RES)])).map(p => p.vendorId));
				for (const id of racers)
					expect(`${inA.has(id) ? "a" : ""}${inB.has(id) ? "b" : ""}`, `${id}, round ${round}`).toBe(newest === from ? "a" : "b");
			}
		} finally {
			await Promise.all(writers.slice(1).map(w => w.close()));
		}
	});

	it("answers nearby across a shard border in distance order, the limit applied after the merge", async () => {
		// Points on the line through both centers, alternating sides of the midpoint.
		const a = center(from);
		const b = center(to);
		const mid = { lat: (a.lat + b.lat) / 2, lng: (a.lng + b.lng) / 2 };
		const ts = Date.now();
		const spots = Array.from({ length: 10 }, (_, i) => {
			const side = i % 2 === 0 ? a : b;
			const f = 0.02 + i * 0.015;
			return position(`border-${i}`, mid.lat + (side.lat - mid.lat) * f, mid.lng + (side.lng - mid.lng) * f, ts);
		});
		await store.applyMany(spots, ts, 50);
		const shardsOf = new Set(spots.map(p => keys.shardOf(p.cell)));
		expect(shardsOf).toEqual(new Set([from, to]));
		const expected = spots
			.map(p => ({ id: p.vendorId, d: distanceM(mid.lat, mid.lng, p.lat, p.lng) }))
			.sort((x, y) => x.d - y.d)
			.slice(0, 5)
			.map(x => x.id);
		const hits: NearbyHit[] = (await store.nearby(mid.lat, mid.lng, 2_000, 50)).filter(h => h.vendorId.startsWith("border-"));
		expect(hits.map(h => h.vendorId).slice(0, 5)).toEqual(expected);
		const limited = await store.nearby(mid.lat, mid.lng, 2_000, 5);
		expect(limited.map(h => h.vendorId)).toEqual(expected);
		expect(new Set(limited.map(h => keys.shardOf(h.cell)))).toEqual(new Set([from, to]));
	});

	it("finishes a move whose old shard was down with the vendor's next write", async () => {
		const fromMaster = await cluster.masterOf(keys.shard(from).pos);
		// A vendor whose record is not on the old shard's master.
		let vendorId = "";
		for (let i = 0; !vendorId; i++) if ((await cluster.masterOf(keys.vendor(`ven_cut_${i}`).pos)) !== fromMaster) vendorId = `ven_cut_${i}`;
		const a = center(from);
		const b = center(to);
		const t0 = Date.now();
		await store.apply(position(vendorId, a.lat, a.lng, t0), t0, 50);
		await cluster.masters[fromMaster]!.stop();
		try {
			await expect(store.apply(position(vendorId, b.lat, b.lng, t0 + 1), t0 + 1, 50)).rejects.toThrow();
		} finally {
			await cluster.masters[fromMaster]!.start();
			await cluster.healthy();
		}
		// The record moved; the old shard still has the vendor until the move is finished.
		expect((await cluster.keys(keys.vendor(vendorId).left)).flat()).toHaveLength(1);
		await waitFor(() => store.apply(position(vendorId, b.lat + 0.0001, b.lng, t0 + 2), t0 + 2, 50).then(() => true), {
			timeout: 20_000,
			what: "a write once the master is back",
		});
		expect((await store.nearby(a.lat, a.lng, 300, 10)).map(h => h.vendorId)).not.toContain(vendorId);
		expect((await cluster.keys(keys.vendor(vendorId).left)).flat()).toEqual([]);
		expect(await keysNaming(from, vendorId)).toEqual([keys.shard(from).gone]);
	}, 60_000);

	/** The keys of a shard, on its master, that hold the vendor (a field, member or GEO entry). */
	async function keysNaming(shard: string, vendorId: string): Promise<string[]> {
		const redis = new Redis(cluster.masters[await cluster.masterOf(keys.shard(shard).pos)]!.url);
		try {
			const naming: string[] = [];
			for (const key of await redis.keys(`${prefix}{${shard}}:*`)) {
				const type = await redis.type(key);
				const has =
					type === "hash"
						? await redis.hexists(key, vendorId)
						: type === "set"
							? await redis.sismember(key, vendorId)
							: (await redis.zscore(key, vendorId)) !== null;
				if (has) naming.push(key);
			}
			return naming.sort();
		} finally {
			redis.disconnect();
		}
	}
});

describe("the geo service on the cluster, through the engine", () => {
	it("reports the cluster's state in readiness", async () => {
		const engine = await startTestEngine({ SERVICES: "geo", REDIS_URL: cluster.url });
		try {
			expect((await checkReadiness(engine.broker)).checks).toMatchObject({ geo: "ok", cacher: "ok" });
		} finally {
			await engine.stop();
		}
	});
});
