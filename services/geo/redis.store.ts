import { Redis } from "ioredis";
import { redisOptions } from "../../runtime/redis.ts";
import { distanceM, inBBox, type BBox } from "../../lib/geo.ts";
import type { NearbyHit, StoredPosition, VendorLocation } from "./contract.ts";
import type { ApplyResult, GeoStore } from "./store.ts";

/*
 * Keys (all under `<prefix>`): `pos` hash vendorId → position JSON; `online` zset vendorId →
 * last seen (ms); `geo` GEO set of online vendors; `cell:<h3>` set of online vendors in a cell;
 * `hist:<vendorId>` capped list of positions, newest first.
 * Each vendor write is one Lua script, so transitions are atomic whoever writes.
 */

const APPLY = `
local prevJson = redis.call('HGET', KEYS[1], ARGV[1])
local prevOnline = 0
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then prevOnline = 1 end
local prevCell = ''
if prevJson then
  local prev = cjson.decode(prevJson)
  if tonumber(ARGV[3]) < tonumber(prev.ts) then return {0, prev.cell, prevOnline} end
  prevCell = prev.cell
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if prevOnline == 1 and prevCell ~= ARGV[4] then redis.call('SREM', ARGV[9] .. prevCell, ARGV[1]) end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('GEOADD', KEYS[3], ARGV[5], ARGV[6], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])
redis.call('LPUSH', KEYS[5], ARGV[2])
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[8]) - 1)
if prevJson then return {1, prevCell, prevOnline} end
return {1, '', -1}
`;

const SET_OFFLINE = `
local seen = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not seen then return false end
if ARGV[2] ~= '' and tonumber(seen) > tonumber(ARGV[2]) then return false end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local json = redis.call('HGET', KEYS[1], ARGV[1])
if json then redis.call('SREM', ARGV[3] .. cjson.decode(json).cell, ARGV[1]) end
return json
`;

/** Nearest online vendors and their positions in one round trip (the search alone is half the cost otherwise). */
const NEARBY = `
local ids = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'm', 'ASC', 'COUNT', ARGV[4])
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
`;

type Scripts = {
	ventaGeoNearby(...args: (string | number)[]): Promise<(string | null)[]>;
	ventaGeoApply(...args: (string | number)[]): Promise<[number, string, number]>;
	ventaGeoOffline(...args: (string | number)[]): Promise<string | null>;
};

/** The Redis geo store (REDIS_URL): shared by every geo node of the cluster. */
export class RedisGeoStore implements GeoStore {
	readonly #redis: Redis & Scripts;
	readonly #key: { pos: string; online: string; geo: string; cell: string; hist: string };

	constructor(url: string, prefix: string) {
		this.#redis = new Redis({ ...redisOptions(url), enableAutoPipelining: true }) as Redis & Scripts;
		this.#redis.on("error", () => undefined); // reconnects by itself; readiness reports the outage
		this.#key = { pos: `${prefix}pos`, online: `${prefix}online`, geo: `${prefix}geo`, cell: `${prefix}cell:`, hist: `${prefix}hist:` };
		this.#redis.defineCommand("ventaGeoApply", { numberOfKeys: 5, lua: APPLY });
		this.#redis.defineCommand("ventaGeoOffline", { numberOfKeys: 3, lua: SET_OFFLINE });
		this.#redis.defineCommand("ventaGeoNearby", { numberOfKeys: 2, lua: NEARBY });
	}

	async apply(p: StoredPosition, seenAt: number, historyLength: number): Promise<ApplyResult> {
		const k = this.#key;
		const [applied, prevCell, prevOnline] = await this.#redis.ventaGeoApply(
			k.pos,
			k.online,
			k.geo,
			k.cell + p.cell,
			k.hist + p.vendorId,
			p.vendorId,
			JSON.stringify(p),
			p.ts,
			p.cell,
			p.lng,
			p.lat,
			seenAt,
			historyLength,
			k.cell
		);
		if (applied === 0) return { applied: false, reason: "stale" };
		return { applied: true, previous: prevOnline === -1 ? null : { cell: prevCell, online: prevOnline === 1 } };
	}

	applyMany(positions: StoredPosition[], seenAt: number, historyLength: number): Promise<ApplyResult[]> {
		// Auto-pipelining sends the batch's scripts in one round trip; Redis runs them in order.
		return Promise.all(positions.map(p => this.apply(p, seenAt, historyLength)));
	}

	async get(vendorId: string): Promise<VendorLocation | null> {
		// Auto-pipelining sends both in one round trip.
		const [json, seen] = await Promise.all([this.#redis.hget(this.#key.pos, vendorId), this.#redis.zscore(this.#key.online, vendorId)]);
		return json === null ? null : { ...(JSON.parse(json) as StoredPosition), online: seen !== null };
	}

	async nearby(lat: number, lng: number, radius: number, limit: number): Promise<NearbyHit[]> {
		// Redis stores 52-bit geohashes (~0.6 m); search a little wider, then decide on exact positions.
		const json = await this.#redis.ventaGeoNearby(this.#key.geo, this.#key.pos, lng, lat, radius + 1, limit + 16);
		const hits: NearbyHit[] = [];
		for (const j of json) {
			if (j === null) continue;
			const p = JSON.parse(j) as StoredPosition;
			const distance = distanceM(lat, lng, p.lat, p.lng);
			if (distance <= radius) hits.push({ ...p, online: true, distance });
		}
		return hits.sort((a, b) => a.distance - b.distance).slice(0, limit);
	}

	async inCells(cells: readonly string[]): Promise<StoredPosition[]> {
		if (cells.length === 0) return [];
		const pipe = this.#redis.pipeline();
		for (const cell of cells) pipe.smembers(this.#key.cell + cell);
		const ids = (await pipe.exec())!.flatMap(([, members]) => members as string[]);
		return this.#positions(ids);
	}

	async inBBox(bbox: BBox): Promise<StoredPosition[]> {
		const [w, s, e, n] = bbox;
		// BYBOX measures width the short way round: a box wider than half the globe is asked in halves.
		if (e - w > 180) {
			const mid = (w + e) / 2;
			return [...(await this.inBBox([w, s, mid, n])), ...(await this.inBBox([mid, s, e, n]))];
		}
		const lat = (s + n) / 2;
		const lng = (w + e) / 2;
		// BYBOX is measured at the centre; widen by the widest parallel, then filter exactly.
		const widest = Math.min(Math.abs(s), Math.abs(n)) * (s < 0 && n > 0 ? 0 : 1);
		const widthM = distanceM(widest, w, widest, e) + 2;
		const heightM = distanceM(s, lng, n, lng) + 2;
		const ids = (await this.#redis.geosearch(this.#key.geo, "FROMLONLAT", lng, lat, "BYBOX", widthM, heightM, "m")) as string[];
		return (await this.#positions(ids)).filter(p => inBBox(bbox, p.lat, p.lng));
	}

	async setOffline(vendorId: string, seenAtOrBefore?: number): Promise<StoredPosition | null> {
		const k = this.#key;
		const json = await this.#redis.ventaGeoOffline(k.pos, k.online, k.geo, vendorId, seenAtOrBefore ?? "", k.cell);
		return json ? (JSON.parse(json) as StoredPosition) : null;
	}

	expired(cutoff: number, limit: number): Promise<string[]> {
		return this.#redis.zrangebyscore(this.#key.online, "-inf", cutoff, "LIMIT", 0, limit);
	}

	async history(vendorId: string): Promise<StoredPosition[]> {
		return (await this.#redis.lrange(this.#key.hist + vendorId, 0, -1)).map(j => JSON.parse(j) as StoredPosition);
	}

	async check(): Promise<void> {
		await this.#redis.ping();
	}

	async close(): Promise<void> {
		await this.#redis.quit().catch(() => this.#redis.disconnect());
	}

	async #positions(ids: string[]): Promise<StoredPosition[]> {
		if (ids.length === 0) return [];
		const json = await this.#redis.hmget(this.#key.pos, ...ids);
		return json.filter((j): j is string => j !== null).map(j => JSON.parse(j) as StoredPosition);
	}
}
