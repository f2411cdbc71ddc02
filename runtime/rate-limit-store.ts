import { createRedisClient, type RedisClient } from "./redis.ts";

type Logger = { warn(obj: object, msg: string): void };

/** What the REST gateway hands the store through moleculer-web's `rateLimit` options. */
export type RedisRateLimitOptions = { redis: RedisClient; prefix: string; logger: Logger };

/** A Redis fault that lasts is logged once per this. */
const WARN_EVERY_MS = 10_000;

/**
 * The connection of the rate-limit stores: a command while disconnected fails at once (the
 * store then fails open) instead of waiting in ioredis' offline queue.
 */
export function rateLimitRedis(url: string): RedisClient {
	return createRedisClient(url, { offlineQueue: false });
}

/**
 * moleculer-web's rate-limit store (its `StoreFactory`) in Redis, so every API replica counts
 * into one budget per key. Windows are fixed and aligned on the clock (every replica's minute
 * starts at the same instant), so one reset time holds for all keys, as in moleculer-web's
 * MemoryStore; a key's counter is `<prefix><window end>:<key>` and expires with its window (one
 * key per transaction, so any Redis Cluster slot takes it).
 * A Redis fault fails open: the request passes uncounted and the fault is logged now and then.
 */
export class RedisRateLimitStore {
	readonly #window: number;
	readonly #opts: RedisRateLimitOptions;
	#warnedAt = 0;

	constructor(window: number, opts: RedisRateLimitOptions) {
		this.#window = window;
		this.#opts = opts;
	}

	/** When the current window ends (epoch ms): the reset time moleculer-web reports. */
	get resetTime(): number {
		return (Math.floor(Date.now() / this.#window) + 1) * this.#window;
	}

	/** The key's requests in the current window, this one included; 0 (not counted) when Redis fails. */
	async inc(key: string): Promise<number> {
		const windowEnd = this.resetTime;
		const counter = `${this.#opts.prefix}${windowEnd}:${key}`;
		try {
			const replies = await this.#opts.redis.multi().incr(counter).pexpireat(counter, windowEnd).exec();
			const [err, count] = replies?.[0] ?? [new Error("transaction discarded")];
			if (err) throw err;
			return count as number;
		} catch (err) {
			const now = Date.now();
			if (now - this.#warnedAt > WARN_EVERY_MS) {
				this.#warnedAt = now;
				this.#opts.logger.warn({ err: (err as Error).message }, "Rate-limit store unavailable; REST requests pass uncounted");
			}
			return 0;
		}
	}
}
