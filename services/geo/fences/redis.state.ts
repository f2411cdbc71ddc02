import { createRedisClient, type RedisClient } from "../../../runtime/redis.ts";
import type { Transition } from "../../alerts/contract.ts";
import { ruleMask, type FenceStateStore, type Rule, type Step, type StepResult } from "./state.ts";

/*
 * Keys (under `<prefix>`, the geo store's `<namespace>:geo:`), hash-tagged by vendor so that a
 * step touches one Redis Cluster slot: `{f:<vendorId>}:fence:<fenceId>` hash { i: inside 0/1,
 * s: since, f: last fire, d: dwell fired 0/1, t: newest position time }; `{f:<vendorId>}:in` set
 * of the fences the vendor is inside. `fv:<fenceId>`: set of the vendors with state for the fence
 * (to forget it), written next to the step. Every key expires `ttl` after its last step: a vendor
 * inside steps at least every VENDOR_OFFLINE_AFTER_S, and a last fire matters for the minimum
 * interval only.
 */

/** `step` of state.ts, in one script so that a check and its write are atomic across replicas. */
const STEP = `
local s = redis.call('HMGET', KEYS[1], 'i', 's', 'f', 'd', 't')
local side, ts, minInterval, dwellMs, mask, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local inside, since, last, dwelled, seen = s[1] == '1', tonumber(s[2]) or 0, tonumber(s[3]), s[4] == '1', tonumber(s[5]) or 0
if ts < seen then return {'', inside and 1 or 0} end
local canFire = (last == nil) or (ts - last >= minInterval)
local fired = ''
if (not inside) and side == 'in' then
  inside = true; since = ts; dwelled = false
  if canFire and mask % 2 == 1 then fired = 'enter' end
elseif inside and (side == 'out' or side == 'off') then
  inside = false
  if side == 'out' and canFire and math.floor(mask / 2) % 2 == 1 then fired = 'exit' end
elseif inside and dwellMs > 0 and (not dwelled) and ts - since >= dwellMs and math.floor(mask / 4) % 2 == 1 then
  dwelled = true; fired = 'dwell'
end
if fired == 'enter' or fired == 'exit' then last = ts end
redis.call('HSET', KEYS[1], 'i', inside and 1 or 0, 's', since, 'f', last or '', 'd', dwelled and 1 or 0, 't', ts)
redis.call('PEXPIRE', KEYS[1], ttl)
if inside then redis.call('SADD', KEYS[2], ARGV[1]) else redis.call('SREM', KEYS[2], ARGV[1]) end
redis.call('PEXPIRE', KEYS[2], ttl)
return {fired, inside and 1 or 0}
`;

/** The fence's vendor index: one more vendor, and its expiry moved on. */
const INDEX = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

/** One vendor's state for a removed fence. */
const FORGET_VENDOR = `
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
`;

type Scripts = {
	ventaFenceStep(...args: (string | number)[]): Promise<[string, number]>;
	ventaFenceIndex(...args: (string | number)[]): Promise<null>;
	ventaFenceForgetVendor(...args: (string | number)[]): Promise<null>;
};

/** Fence state in Redis (REDIS_URL): shared by every geo replica, so any of them can take over. */
export class RedisFenceState implements FenceStateStore {
	readonly shared = true;
	readonly #redis: RedisClient & Scripts;
	readonly #prefix: string;
	readonly #ttlMs: number;

	/** `ttlMs`: how long state outlives its last step (at least the longest minimum interval and dwell). */
	constructor(url: string, prefix: string, ttlMs: number) {
		// The geo store's readiness reports an outage.
		this.#redis = createRedisClient(url, { autoPipelining: true }) as RedisClient & Scripts;
		this.#prefix = prefix;
		this.#ttlMs = ttlMs;
		this.#redis.defineCommand("ventaFenceStep", { numberOfKeys: 2, lua: STEP });
		this.#redis.defineCommand("ventaFenceIndex", { numberOfKeys: 1, lua: INDEX });
		this.#redis.defineCommand("ventaFenceForgetVendor", { numberOfKeys: 2, lua: FORGET_VENDOR });
	}

	async step(fenceId: string, vendorId: string, side: Step, ts: number, rule: Rule): Promise<StepResult> {
		const p = this.#prefix;
		const ttl = Math.max(this.#ttlMs, rule.minIntervalMs, rule.dwellMs) + 60_000;
		// Auto-pipelining sends both in one round trip.
		const [[fired, inside]] = await Promise.all([
			this.#redis.ventaFenceStep(
				this.#stateKey(vendorId, fenceId),
				this.#insideKey(vendorId),
				fenceId,
				side,
				ts,
				rule.minIntervalMs,
				rule.dwellMs,
				ruleMask(rule.on),
				ttl
			),
			this.#redis.ventaFenceIndex(`${p}fv:${fenceId}`, vendorId, ttl),
		]);
		return { fired: fired === "" ? null : (fired as Transition), inside: inside === 1 };
	}

	insideOf(vendorId: string): Promise<string[]> {
		return this.#redis.smembers(this.#insideKey(vendorId));
	}

	/** Each vendor's state in its own slot, then the index (a vendor stepping meanwhile keeps state that expires). */
	async forget(fenceId: string): Promise<void> {
		const index = `${this.#prefix}fv:${fenceId}`;
		const vendors = await this.#redis.smembers(index);
		await Promise.all(vendors.map(v => this.#redis.ventaFenceForgetVendor(this.#stateKey(v, fenceId), this.#insideKey(v), fenceId)));
		await this.#redis.del(index);
	}

	#stateKey(vendorId: string, fenceId: string): string {
		return `${this.#prefix}{f:${vendorId}}:fence:${fenceId}`;
	}

	#insideKey(vendorId: string): string {
		return `${this.#prefix}{f:${vendorId}}:in`;
	}

	async close(): Promise<void> {
		await this.#redis.quit().catch(() => this.#redis.disconnect());
	}
}
