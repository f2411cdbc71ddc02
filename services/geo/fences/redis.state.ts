import { Redis } from "ioredis";
import { redisOptions } from "../../../runtime/redis.ts";
import type { Transition } from "../../alerts/contract.ts";
import { ruleMask, type FenceStateStore, type Rule, type Step, type StepResult } from "./state.ts";

/*
 * Keys (under `<prefix>`, the geo store's `<namespace>:geo:`): `fence:<fenceId>:<vendorId>` hash
 * { i: inside 0/1, s: since, f: last fire, d: dwell fired 0/1, t: newest position time };
 * `fin:<vendorId>` set of the fences the vendor is inside; `fv:<fenceId>` set of the vendors with
 * state for the fence (to forget it). Every key expires `ttl` after its last step: a vendor inside
 * steps at least every VENDOR_OFFLINE_AFTER_S, and a last fire matters for the minimum interval only.
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
redis.call('SADD', KEYS[3], ARGV[8])
redis.call('PEXPIRE', KEYS[3], ttl)
return {fired, inside and 1 or 0}
`;

const FORGET = `
local vendors = redis.call('SMEMBERS', KEYS[1])
for _, v in ipairs(vendors) do
  redis.call('DEL', ARGV[1] .. 'fence:' .. ARGV[2] .. ':' .. v)
  redis.call('SREM', ARGV[1] .. 'fin:' .. v, ARGV[2])
end
redis.call('DEL', KEYS[1])
return #vendors
`;

type Scripts = {
	ventaFenceStep(...args: (string | number)[]): Promise<[string, number]>;
	ventaFenceForget(...args: (string | number)[]): Promise<number>;
};

/** Fence state in Redis (REDIS_URL): shared by every geo replica, so any of them can take over. */
export class RedisFenceState implements FenceStateStore {
	readonly shared = true;
	readonly #redis: Redis & Scripts;
	readonly #prefix: string;
	readonly #ttlMs: number;

	/** `ttlMs`: how long state outlives its last step (at least the longest minimum interval and dwell). */
	constructor(url: string, prefix: string, ttlMs: number) {
		this.#redis = new Redis({ ...redisOptions(url), enableAutoPipelining: true }) as Redis & Scripts;
		this.#redis.on("error", () => undefined); // reconnects by itself; the geo store's readiness reports the outage
		this.#prefix = prefix;
		this.#ttlMs = ttlMs;
		this.#redis.defineCommand("ventaFenceStep", { numberOfKeys: 3, lua: STEP });
		this.#redis.defineCommand("ventaFenceForget", { numberOfKeys: 1, lua: FORGET });
	}

	async step(fenceId: string, vendorId: string, side: Step, ts: number, rule: Rule): Promise<StepResult> {
		const p = this.#prefix;
		const ttl = Math.max(this.#ttlMs, rule.minIntervalMs, rule.dwellMs) + 60_000;
		const [fired, inside] = await this.#redis.ventaFenceStep(
			`${p}fence:${fenceId}:${vendorId}`,
			`${p}fin:${vendorId}`,
			`${p}fv:${fenceId}`,
			fenceId,
			side,
			ts,
			rule.minIntervalMs,
			rule.dwellMs,
			ruleMask(rule.on),
			ttl,
			vendorId
		);
		return { fired: fired === "" ? null : (fired as Transition), inside: inside === 1 };
	}

	insideOf(vendorId: string): Promise<string[]> {
		return this.#redis.smembers(`${this.#prefix}fin:${vendorId}`);
	}

	async forget(fenceId: string): Promise<void> {
		await this.#redis.ventaFenceForget(`${this.#prefix}fv:${fenceId}`, this.#prefix, fenceId);
	}

	async close(): Promise<void> {
		await this.#redis.quit().catch(() => this.#redis.disconnect());
	}
}
