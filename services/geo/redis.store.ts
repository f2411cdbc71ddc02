import { checkRedis, createRedisClient, type RedisClient } from "../../runtime/redis.ts";
import { distanceM, inBBox, type BBox } from "../../lib/geo.ts";
import type { NearbyHit, StoredPosition, VendorLocation } from "./contract.ts";
import { CellCover, DESCENDANTS_REACH } from "./fences/cover.ts";
import { GeoKeys, jsonAfter, TOMBSTONE_TTL_MS } from "./redis/layout.ts";
import { IN_BOX, IN_CELLS, LEFT_DONE, NEARBY, OFFLINE, PLACE, RECORD, REMOVE } from "./redis/scripts.ts";
import type { ApplyResult, GeoStore } from "./store.ts";

type Args = (string | number)[];
type Scripts = {
	ventaGeoRecord(...args: Args): Promise<[number, string, number, string[]][]>;
	ventaGeoPlace(...args: Args): Promise<number>;
	ventaGeoRemove(...args: Args): Promise<number>;
	ventaGeoLeftDone(...args: Args): Promise<number>;
	ventaGeoOffline(...args: Args): Promise<string | null>;
	ventaGeoNearby(...args: Args): Promise<(string | null)[]>;
	ventaGeoInBox(...args: Args): Promise<(string | null)[]>;
	ventaGeoInCells(...args: Args): Promise<(string | null)[]>;
};

/** A shard the vendor must still be removed from, as of `ts` (the position that took it elsewhere). */
type Left = { shard: string; ts: string };
type Placed = { p: StoredPosition; json: string; shard: string };
type Recorded = { result: ApplyResult; left: Left[] };
type Indexed<T> = { item: T; at: number };

const SCRIPTS: [keyof Scripts, number, string][] = [
	["ventaGeoRecord", 2, RECORD],
	["ventaGeoPlace", 3, PLACE],
	["ventaGeoRemove", 3, REMOVE],
	["ventaGeoLeftDone", 1, LEFT_DONE],
	["ventaGeoOffline", 2, OFFLINE],
	["ventaGeoNearby", 2, NEARBY],
	["ventaGeoInBox", 2, IN_BOX],
	["ventaGeoInCells", 1, IN_CELLS],
];

/**
 * The Redis geo store (REDIS_URL): one server or a Redis Cluster, shared by every geo node. Keys
 * are in redis/layout.ts: positions are sharded by a coarse H3 cell, each vendor's record is in
 * its bucket. A write records the position on the vendor (atomic: stale or not, the previous
 * place), then places it in its shard and, if the vendor crossed into another shard, removes it
 * from the old one; a move that fails halfway is finished by the vendor's next write or offline.
 * Reads ask each shard they span once (auto-pipelining: one round trip per node) and merge.
 */
export class RedisGeoStore implements GeoStore {
	readonly #redis: RedisClient & Scripts;
	readonly #keys: GeoKeys;
	readonly #shards: CellCover;
	/** Shards this process has put in the registry. */
	readonly #registered = new Set<string>();

	/** `h3Res`: the resolution of the positions' cells (H3_RES). */
	constructor(url: string, prefix: string, h3Res: number) {
		this.#redis = createRedisClient(url, { autoPipelining: true }) as RedisClient & Scripts;
		this.#keys = new GeoKeys(prefix, h3Res);
		this.#shards = new CellCover(this.#keys.shardRes);
		for (const [name, numberOfKeys, lua] of SCRIPTS) this.#redis.defineCommand(name, { numberOfKeys, lua });
	}

	async apply(p: StoredPosition, seenAt: number, historyLength: number): Promise<ApplyResult> {
		return (await this.applyMany([p], seenAt, historyLength))[0]!;
	}

	/**
	 * The records, one script per bucket the batch touches, in one round trip; then the shards, one
	 * script per shard, and the removals from shards left, in one more.
	 */
	async applyMany(positions: StoredPosition[], seenAt: number, historyLength: number): Promise<ApplyResult[]> {
		const placed = positions.map(p => ({ p, json: JSON.stringify(p), shard: this.#keys.shardOf(p.cell) }));
		const recorded = new Array<Recorded>(placed.length);
		const buckets = groupBy(placed, x => this.#keys.bucket(x.p.vendorId).pos);
		await Promise.all([...buckets.values()].map(group => this.#record(group, seenAt, historyLength, recorded)));
		const toShards = groupBy(
			placed.filter((_, i) => recorded[i]!.result.applied),
			x => x.shard
		);
		const writes: Promise<unknown>[] = [...toShards].map(([shard, group]) => this.#place(shard, group));
		for (const shard of toShards.keys()) if (!this.#registered.has(shard)) writes.push(this.#register(shard));
		placed.forEach((x, i) => {
			for (const left of recorded[i]!.left) writes.push(this.#leave(x.p.vendorId, left));
		});
		await Promise.all(writes);
		return recorded.map(r => r.result);
	}

	async get(vendorId: string): Promise<VendorLocation | null> {
		const k = this.#keys.vendor(vendorId);
		const [record, seen] = await Promise.all([this.#redis.hget(k.pos, vendorId), this.#redis.zscore(k.seen, vendorId)]);
		return record === null ? null : { ...(JSON.parse(jsonAfter(record, 3)) as StoredPosition), online: seen !== null };
	}

	async nearby(lat: number, lng: number, radius: number, limit: number): Promise<NearbyHit[]> {
		// Redis stores 52-bit geohashes (~0.6 m); search a little wider, then decide on exact positions.
		const values = await Promise.all(
			this.#shards.aroundCircle(lat, lng, radius).map(shard => {
				const k = this.#keys.shard(shard);
				return this.#redis.ventaGeoNearby(k.geo, k.pos, lng, lat, radius + 1, limit + 16);
			})
		);
		const hits: NearbyHit[] = [];
		for (const p of values.flat().flatMap(shardPosition)) {
			const distance = distanceM(lat, lng, p.lat, p.lng);
			if (distance <= radius) hits.push({ ...p, online: true, distance });
		}
		return hits.sort((a, b) => a.distance - b.distance).slice(0, limit);
	}

	async inCells(cells: readonly string[]): Promise<StoredPosition[]> {
		const values = await Promise.all(
			[...groupBy([...cells], cell => this.#keys.shardOf(cell))].map(([shard, group]) => {
				const k = this.#keys.shard(shard);
				return this.#redis.ventaGeoInCells(k.pos, k.cellPrefix, ...group.map(g => g.item));
			})
		);
		return values.flat().flatMap(shardPosition);
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
		const bounds = { west: w, south: s, east: e, north: n };
		const shards = (await this.#redis.smembers(this.#keys.registry)).filter(shard =>
			this.#shards.overlaps(shard, bounds, DESCENDANTS_REACH)
		);
		const values = await Promise.all(
			shards.map(shard => {
				const k = this.#keys.shard(shard);
				return this.#redis.ventaGeoInBox(k.geo, k.pos, lng, lat, widthM, heightM);
			})
		);
		return values
			.flat()
			.flatMap(shardPosition)
			.filter(p => inBBox(bbox, p.lat, p.lng));
	}

	/**
	 * Out of its shard (and any it left) first, then off the record if nothing newer came: a step
	 * that fails leaves the vendor online for the next sweep to try again, never a ghost.
	 */
	async setOffline(vendorId: string, seenAtOrBefore?: number): Promise<StoredPosition | null> {
		const k = this.#keys.vendor(vendorId);
		const [record, seen, left] = await Promise.all([
			this.#redis.hget(k.pos, vendorId),
			this.#redis.zscore(k.seen, vendorId),
			this.#redis.hgetall(k.left),
		]);
		const pending = Object.entries(left).map(([shard, ts]) => this.#leave(vendorId, { shard, ts }));
		if (record === null || seen === null || (seenAtOrBefore !== undefined && Number(seen) > seenAtOrBefore)) {
			await Promise.all(pending);
			return null;
		}
		const [ts, cell] = record.split(" ", 2) as [string, string];
		const shard = this.#keys.shard(this.#keys.shardOf(cell));
		await Promise.all([
			...pending,
			this.#redis.ventaGeoRemove(shard.pos, shard.geo, shard.gone, vendorId, ts, shard.cellPrefix, TOMBSTONE_TTL_MS),
		]);
		const offline = await this.#redis.ventaGeoOffline(k.pos, k.seen, vendorId, ts, seenAtOrBefore ?? "");
		return offline ? (JSON.parse(jsonAfter(offline, 3)) as StoredPosition) : null;
	}

	async expired(cutoff: number, limit: number): Promise<string[]> {
		const buckets = await Promise.all(
			this.#keys.seenSets().map(seen => this.#redis.zrangebyscore(seen, "-inf", cutoff, "LIMIT", 0, limit))
		);
		return buckets.flat().slice(0, limit);
	}

	async history(vendorId: string): Promise<StoredPosition[]> {
		return (await this.#redis.lrange(this.#keys.vendor(vendorId).hist, 0, -1)).map(j => JSON.parse(j) as StoredPosition);
	}

	check(): Promise<void> {
		return checkRedis(this.#redis);
	}

	async close(): Promise<void> {
		await this.#redis.quit().catch(() => this.#redis.disconnect());
	}

	/** One bucket's positions on their records; their results go to `out` at each position's index. */
	async #record(group: Indexed<Placed>[], seenAt: number, historyLength: number, out: Recorded[]): Promise<void> {
		const k = this.#keys.bucket(group[0]!.item.p.vendorId);
		const args: Args = [k.pos, k.seen, seenAt, historyLength, k.histPrefix, k.leftPrefix];
		for (const { item } of group) args.push(item.p.vendorId, item.json, item.p.ts, item.p.cell, item.shard);
		const replies = await this.#redis.ventaGeoRecord(...args);
		group.forEach(({ at }, j) => {
			const [applied, prevCell, prevOnline, left] = replies[j]!;
			const lefts: Left[] = [];
			for (let i = 0; i < left.length; i += 2) lefts.push({ shard: left[i]!, ts: left[i + 1]! });
			out[at] =
				applied === 0
					? { result: { applied: false, reason: "stale" }, left: [] }
					: { result: { applied: true, previous: prevOnline === -1 ? null : { cell: prevCell, online: prevOnline === 1 } }, left: lefts };
		});
	}

	#place(shard: string, group: Indexed<Placed>[]): Promise<number> {
		const k = this.#keys.shard(shard);
		const args: Args = [k.pos, k.geo, k.gone, k.cellPrefix];
		for (const { item } of group) args.push(item.p.vendorId, item.json, item.p.ts, item.p.cell, item.p.lng, item.p.lat);
		return this.#redis.ventaGeoPlace(...args);
	}

	/** Removes the vendor from a shard it left, then crosses the shard off its `left` list. */
	async #leave(vendorId: string, left: Left): Promise<void> {
		const k = this.#keys.shard(left.shard);
		await this.#redis.ventaGeoRemove(k.pos, k.geo, k.gone, vendorId, left.ts, k.cellPrefix, TOMBSTONE_TTL_MS);
		await this.#redis.ventaGeoLeftDone(this.#keys.vendor(vendorId).left, left.shard, left.ts);
	}

	async #register(shard: string): Promise<void> {
		await this.#redis.sadd(this.#keys.registry, shard);
		this.#registered.add(shard);
	}
}

/** The items by key, in order, each with its index in `items`. */
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, Indexed<T>[]> {
	const groups = new Map<string, Indexed<T>[]>();
	items.forEach((item, at) => {
		const group = groups.get(key(item));
		if (group) group.push({ item, at });
		else groups.set(key(item), [{ item, at }]);
	});
	return groups;
}

/** A shard's `<ts> <cell> <JSON>` value as a position (null: gone between the search and the read). */
function shardPosition(value: string | null): StoredPosition[] {
	return value === null ? [] : [JSON.parse(jsonAfter(value, 2)) as StoredPosition];
}
