/**
 * `nearby` at scale, in its own process: N online vendors in one metro area, written through
 * the geo store classes the engine uses (embedded and Redis), queried with the store's
 * `nearby` and, on the same Redis data, with a raw GEOSEARCH (of the shard under the point).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { latLngToCell } from "h3-js";
import { MemoryGeoStore } from "../../services/geo/memory.store.ts";
import { RedisGeoStore } from "../../services/geo/redis.store.ts";
import { GeoKeys } from "../../services/geo/redis/layout.ts";
import type { StoredPosition } from "../../services/geo/contract.ts";
import type { GeoStore } from "../../services/geo/store.ts";
import { latencyStats } from "../lib/stats.ts";
import { serveRequests } from "../lib/ipc.ts";

export type NearbyRun = {
	redisUrl: string;
	vendors: number;
	queriesPerRound: number;
	rounds: number;
	radius: number;
	limit: number;
	res: number;
};
type RoundStats = { p50: number; p99: number; max: number; n: number };
export type NearbyResult = {
	fill: { memoryMs: number; redisMs: number };
	hitsPerQuery: { memory: number; redis: number; raw: number };
	memory: RoundStats[];
	redis: RoundStats[];
	raw: RoundStats[];
};

// A 40 km × 40 km metro area around Berlin.
const CENTER = { lat: 52.52, lng: 13.405 };
const SPAN = { lat: 0.36, lng: 0.59 };
const HISTORY = 50;

function positions(n: number, res: number): StoredPosition[] {
	const now = Date.now();
	return Array.from({ length: n }, (_, i) => {
		const lat = CENTER.lat + (Math.random() - 0.5) * SPAN.lat;
		const lng = CENTER.lng + (Math.random() - 0.5) * SPAN.lng;
		return { vendorId: `v${i}`, lat, lng, ts: now, cell: latLngToCell(lat, lng, res) };
	});
}

function queryPoints(n: number): { lat: number; lng: number }[] {
	return Array.from({ length: n }, () => ({
		lat: CENTER.lat + (Math.random() - 0.5) * SPAN.lat * 0.8,
		lng: CENTER.lng + (Math.random() - 0.5) * SPAN.lng * 0.8,
	}));
}

async function fill(store: GeoStore, data: StoredPosition[]): Promise<number> {
	const t0 = performance.now();
	let next = 0;
	const worker = async () => {
		while (next < data.length) await store.apply(data[next++]!, Date.now(), HISTORY);
	};
	await Promise.all(Array.from({ length: 128 }, worker));
	return performance.now() - t0;
}

/** Times `query` one call after the other (no overlap: the latency of one request). */
async function timeQueries(
	points: { lat: number; lng: number }[],
	query: (p: { lat: number; lng: number }) => Promise<unknown[]>
): Promise<{ stats: RoundStats; hits: number }> {
	const samples: number[] = [];
	let hits = 0;
	for (const p of points) {
		const t0 = performance.now();
		const result = await query(p);
		samples.push(performance.now() - t0);
		hits += result.length;
	}
	return { stats: latencyStats(samples), hits: hits / points.length };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
	let cursor = "0";
	do {
		const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
		cursor = next;
		if (keys.length) await redis.unlink(...keys);
	} while (cursor !== "0");
}

serveRequests({
	async run(opts: NearbyRun): Promise<NearbyResult> {
		const data = positions(opts.vendors, opts.res);
		const prefix = `bench-${randomUUID().slice(0, 8)}:geo:`;
		const memory = new MemoryGeoStore(opts.res);
		const redisStore = new RedisGeoStore(opts.redisUrl, prefix, opts.res);
		const keys = new GeoKeys(prefix, opts.res);
		const raw = new Redis(opts.redisUrl);
		try {
			const memoryMs = await fill(memory, data);
			const redisMs = await fill(redisStore, data);
			const rawQuery = (p: { lat: number; lng: number }) =>
				raw.geosearch(
					keys.shard(keys.shardOf(latLngToCell(p.lat, p.lng, opts.res))).geo,
					"FROMLONLAT",
					p.lng,
					p.lat,
					"BYRADIUS",
					opts.radius,
					"m",
					"ASC",
					"COUNT",
					opts.limit,
					"WITHCOORD",
					"WITHDIST"
				) as Promise<unknown[]>;
			const runs = {
				memory: (p: { lat: number; lng: number }) => memory.nearby(p.lat, p.lng, opts.radius, opts.limit),
				redis: (p: { lat: number; lng: number }) => redisStore.nearby(p.lat, p.lng, opts.radius, opts.limit),
				raw: rawQuery,
			};
			// Warm-up (JIT, connection), not measured.
			for (const q of Object.values(runs)) await timeQueries(queryPoints(50), q);
			const result: NearbyResult = {
				fill: { memoryMs, redisMs },
				hitsPerQuery: { memory: 0, redis: 0, raw: 0 },
				memory: [],
				redis: [],
				raw: [],
			};
			for (let r = 0; r < opts.rounds; r++) {
				const points = queryPoints(opts.queriesPerRound);
				for (const [name, q] of Object.entries(runs) as [keyof typeof runs, (typeof runs)[keyof typeof runs]][]) {
					const { stats, hits } = await timeQueries(points, q);
					result[name].push(stats);
					result.hitsPerQuery[name] = hits;
				}
			}
			return result;
		} finally {
			await deleteKeys(raw, prefix).catch(() => undefined);
			await Promise.all([memory.close(), redisStore.close(), raw.quit().catch(() => undefined)]);
		}
	},
});
