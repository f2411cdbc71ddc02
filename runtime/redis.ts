import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { Cachers } from "moleculer";
import { redisTarget, type RedisTarget } from "../config/redis-url.ts";

/** A Redis command that has not answered in this long fails (a frozen Redis never hangs a request). */
export const REDIS_COMMAND_TIMEOUT_MS = 1_000;

/** One server or a Redis Cluster (REDIS_URL): the same commands either way. */
export type RedisClient = Redis | Cluster;

/**
 * Each connection's options: credentials, TLS, failing fast (a command times out, and one queued
 * while disconnected is retried once, then fails).
 */
function connectionOptions(target: RedisTarget): RedisOptions {
	return {
		...(target.username ? { username: target.username } : {}),
		...(target.password ? { password: target.password } : {}),
		...(target.tls ? { tls: {} } : {}),
		commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
		maxRetriesPerRequest: 1,
	};
}

/** ioredis' Cluster options: nodes' connections as above; a node that moved or failed over is retried briefly. */
function clusterOptions(target: RedisTarget, extra: ClusterOptions): ClusterOptions {
	return {
		redisOptions: connectionOptions(target),
		retryDelayOnFailover: 100,
		maxRedirections: 8,
		// Nodes announce themselves by address; TLS certificates name the host (managed clusters).
		...(target.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
		...extra,
	};
}

export type RedisClientOptions = {
	/** Commands issued in one tick go together, one round trip per node. */
	autoPipelining?: boolean;
	/** false: a command while disconnected fails at once instead of waiting in the offline queue. */
	offlineQueue?: boolean;
};

/** The one way the engine connects to Redis (REDIS_URL, validated by config): a server or a cluster. */
export function createRedisClient(url: string, opts: RedisClientOptions = {}): RedisClient {
	const target = redisTarget(url);
	const behaviour = { enableAutoPipelining: opts.autoPipelining ?? false, enableOfflineQueue: opts.offlineQueue ?? true };
	const client = target.cluster
		? new Cluster(target.nodes, clusterOptions(target, behaviour))
		: new Redis({ ...target.nodes[0]!, ...connectionOptions(target), db: target.db, ...behaviour });
	client.on("error", () => undefined); // reconnects by itself; readiness and the callers report what fails
	return client;
}

/** Answers when Redis takes commands: a server's PING, or a cluster whose every slot is served. */
export async function checkRedis(client: RedisClient): Promise<void> {
	if (!(client instanceof Cluster)) {
		await client.ping();
		return;
	}
	const info = await client.cluster("INFO");
	if (!/cluster_state:ok/.test(info)) throw new Error("Redis Cluster state is not ok");
}

/** Moleculer's Redis cacher's connection (it makes its own client): `redis` options or `cluster` nodes. */
export function cacherConnection(
	url: string
): { redis: RedisOptions } | { cluster: { nodes: RedisTarget["nodes"]; options: ClusterOptions } } {
	const target = redisTarget(url);
	return target.cluster
		? { cluster: { nodes: target.nodes, options: clusterOptions(target, {}) } }
		: { redis: { ...target.nodes[0]!, ...connectionOptions(target), db: target.db } };
}

type Logger = { warn(obj: object, msg: string): void };

/**
 * Moleculer's Redis cacher, for which a cache is only an optimisation: when Redis fails or times
 * out, a read is a miss (the action runs) and a write or clean is skipped, instead of failing the
 * request (or leaving an unhandled rejection). Deletes go one key a command: a cluster refuses a
 * DEL of keys in several slots (Moleculer's clean deletes each scanned page with one).
 */
export class FailSoftRedisCacher extends Cachers.Redis<RedisClient> {
	#warnedAt = 0;

	override get(key: string): Promise<Record<string, unknown> | null> {
		return super.get(key).catch(err => this.#skip(err, null));
	}

	override set(key: string, data: unknown, ttl?: number): Promise<void> {
		return super.set(key, data, ttl).catch(err => this.#skip(err, undefined));
	}

	override del(key: string | string[]): Promise<void> {
		const keys = Array.isArray(key) ? key : [key];
		return Promise.all(keys.map(k => super.del(k))).then(
			() => undefined,
			err => this.#skip(err, undefined)
		);
	}

	/** Every key matching (`**` as `*`) under the prefix, on every master of a cluster. */
	override clean(match: string | string[] = "*"): Promise<void> {
		const patterns = (Array.isArray(match) ? match : [match]).map(m => `${this.prefix}${m.replace(/\*\*/g, "*")}`);
		const nodes = this.client instanceof Cluster ? this.client.nodes("master") : [this.client];
		return Promise.all(nodes.flatMap(node => patterns.map(pattern => scanUnlink(node, pattern)))).then(
			() => undefined,
			err => this.#skip(err, undefined)
		);
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

async function scanUnlink(node: Redis, pattern: string): Promise<void> {
	let cursor = "0";
	do {
		const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 100);
		cursor = next;
		await Promise.all(keys.map(key => node.unlink(key)));
	} while (cursor !== "0");
}
