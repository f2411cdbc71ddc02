import type { RedisOptions } from "ioredis";
import { Cachers } from "moleculer";

/** A Redis command that has not answered in this long fails (a frozen Redis never hangs a request). */
export const REDIS_COMMAND_TIMEOUT_MS = 1_000;

/**
 * ioredis options for `redis://[user:password@]host:port[/db]` (or `rediss://`), failing fast:
 * a command times out, and one queued while disconnected is retried once, then fails.
 */
export function redisOptions(url: string): RedisOptions {
	const u = new URL(url);
	return {
		host: u.hostname,
		port: Number(u.port || 6379),
		...(u.username ? { username: decodeURIComponent(u.username) } : {}),
		...(u.password ? { password: decodeURIComponent(u.password) } : {}),
		db: Number(u.pathname.slice(1) || 0),
		...(u.protocol === "rediss:" ? { tls: {} } : {}),
		commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
		maxRetriesPerRequest: 1,
	};
}

type Logger = { warn(obj: object, msg: string): void };

/**
 * Moleculer's Redis cacher, for which a cache is only an optimisation: when Redis fails or times
 * out, a read is a miss (the action runs) and a write or clean is skipped, instead of failing the
 * request (or leaving an unhandled rejection).
 */
export class FailSoftRedisCacher extends Cachers.Redis {
	#warnedAt = 0;

	override get(key: string): Promise<Record<string, unknown> | null> {
		return super.get(key).catch(err => this.#skip(err, null));
	}

	override set(key: string, data: unknown, ttl?: number): Promise<void> {
		return super.set(key, data, ttl).catch(err => this.#skip(err, undefined));
	}

	override del(key: string | string[]): Promise<void> {
		return super.del(key).catch(err => this.#skip(err, undefined));
	}

	override clean(match?: string | string[]): Promise<void> {
		return super.clean(match).catch(err => this.#skip(err, undefined));
	}

	#skip<T>(err: unknown, fallback: T): T {
		const now = Date.now();
		if (now - this.#warnedAt > 10_000) {
			this.#warnedAt = now;
			(this.logger as unknown as Logger).warn({ err: (err as Error).message }, "Cache unavailable; going to the services directly");
		}
		return fallback;
	}
}
