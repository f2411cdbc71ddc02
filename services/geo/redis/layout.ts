import { cellToParent, getResolution } from "h3-js";

/**
 * The Redis geo store's keys, designed for Redis Cluster and the same on a single Redis (where the
 * hash tags are harmless). All are under `<prefix>` (`<namespace>:geo:`); `{…}` is the hash tag,
 * so the keys of one tag share a slot and one Lua script may touch them all.
 *
 * - A shard, `{<cell at SHARD_RES>}`: `pos` hash vendorId → `<ts> <cell> <position JSON>`; `geo`
 *   GEO set; `cell:<h3>` set per H3_RES cell; `gone` zset vendorId → ts of its removal (a write
 *   older than that does not come back; expires TOMBSTONE_TTL_MS after the last removal).
 * - A vendor bucket, `{v<n>}` (n: hash of the vendor id mod VENDOR_BUCKETS): `pos` hash vendorId →
 *   `<ts> <cell> <shard> <position JSON>` (the vendor's record); `seen` zset vendorId → last seen
 *   (online vendors only); `hist:<vendorId>` capped list, newest first; `left:<vendorId>` hash
 *   shard → ts, the shards the vendor left and must still be removed from.
 * - `shards`: set of every shard written (the heatmap's candidates).
 */

/**
 * Resolution of the shard cells: ~36 km², so a city spreads over dozens of shards (Berlin: 54, at
 * resolution 5 only 8), its dense centre over several, while a 1 km nearby asks 2.3 on average.
 */
export const SHARD_RES = 6;

/**
 * Vendors' records are kept in this many buckets, spread over the slots: a batch writes each
 * bucket it touches with one script (a 25 ms batch of 50 positions: ~34 calls), the sweep reads
 * each bucket's zset.
 */
export const VENDOR_BUCKETS = 64;

/** How long a removal's tombstone outlives it: far beyond one write's two steps (command timeouts of 1 s). */
export const TOMBSTONE_TTL_MS = 120_000;

export type ShardKeys = { pos: string; geo: string; gone: string; cellPrefix: string };
export type BucketKeys = { pos: string; seen: string; histPrefix: string; leftPrefix: string };
export type VendorKeys = { pos: string; seen: string; hist: string; left: string };

export class GeoKeys {
	readonly registry: string;
	/** SHARD_RES, or H3_RES when coarser (a shard is then one cell). */
	readonly shardRes: number;
	readonly #prefix: string;

	constructor(prefix: string, h3Res: number) {
		this.#prefix = prefix;
		this.registry = `${prefix}shards`;
		this.shardRes = Math.min(SHARD_RES, h3Res);
	}

	/** The shard of a cell at H3_RES: its parent at the shard resolution. */
	shardOf(cell: string): string {
		return getResolution(cell) > this.shardRes ? cellToParent(cell, this.shardRes) : cell;
	}

	shard(shard: string): ShardKeys {
		const tag = `${this.#prefix}{${shard}}:`;
		return { pos: `${tag}pos`, geo: `${tag}geo`, gone: `${tag}gone`, cellPrefix: `${tag}cell:` };
	}

	/** The keys of the vendor's bucket. */
	bucket(vendorId: string): BucketKeys {
		const tag = this.#bucketTag(bucketOf(vendorId));
		return { pos: `${tag}pos`, seen: `${tag}seen`, histPrefix: `${tag}hist:`, leftPrefix: `${tag}left:` };
	}

	vendor(vendorId: string): VendorKeys {
		const b = this.bucket(vendorId);
		return { pos: b.pos, seen: b.seen, hist: b.histPrefix + vendorId, left: b.leftPrefix + vendorId };
	}

	/** Every bucket's zset of online vendors. */
	seenSets(): string[] {
		return Array.from({ length: VENDOR_BUCKETS }, (_, n) => `${this.#bucketTag(n)}seen`);
	}

	#bucketTag(n: number): string {
		return `${this.#prefix}{v${n}}:`;
	}
}

/** FNV-1a of the vendor id: stable on every node. */
function bucketOf(vendorId: string): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < vendorId.length; i++) hash = Math.imul(hash ^ vendorId.charCodeAt(i), 0x01000193);
	return (hash >>> 0) % VENDOR_BUCKETS;
}

/** A stored value's tail after its `fields` space-separated fields: the position JSON. */
export function jsonAfter(value: string, fields: number): string {
	let at = -1;
	for (let i = 0; i < fields; i++) at = value.indexOf(" ", at + 1);
	return value.slice(at + 1);
}
