import { optionalString } from "./parsers.ts";

/**
 * REDIS_URL: one server, `redis://[user:password@]host:port[/db]` (`rediss://` for TLS), or the
 * seed nodes of a Redis Cluster, `redis-cluster://[user:password@]host:port,host:port,…`
 * (`rediss-cluster://` for TLS; ioredis learns the other nodes from any one of them).
 */
export type RedisTarget = {
	cluster: boolean;
	nodes: { host: string; port: number }[];
	username: string | undefined;
	password: string | undefined;
	/** Always 0 on a cluster (Redis Cluster has one database). */
	db: number;
	tls: boolean;
};

const SCHEMES: Record<string, { cluster: boolean; tls: boolean }> = {
	redis: { cluster: false, tls: false },
	rediss: { cluster: false, tls: true },
	"redis-cluster": { cluster: true, tls: false },
	"rediss-cluster": { cluster: true, tls: true },
};

const FORM = /^([a-z-]+):\/\/(?:([^@/]*)@)?([^@/?#]+)(?:\/(\d*))?$/;
const NODE = /^(?:\[([0-9a-fA-F:.]+)\]|([\w.-]+))(?::(\d{1,5}))?$/;

/** Reads REDIS_URL; throws an Error whose message names what is wrong (never the URL: it may hold a password). */
export function redisTarget(url: string): RedisTarget {
	const form = FORM.exec(url);
	const scheme = form ? SCHEMES[form[1]!] : undefined;
	if (!form || !scheme)
		throw new Error("must be redis://host:port, rediss://…, or redis-cluster://host:port,host:port (rediss-cluster:// for TLS)");
	const [, , userinfo, hosts, db] = form;
	const nodes = hosts!.split(",").map(h => NODE.exec(h.trim()));
	if (nodes.some(n => !n || Number(n[3] ?? 6379) < 1 || Number(n[3] ?? 6379) > 65535)) {
		throw new Error("must name each node as host:port (a port from 1 to 65535)");
	}
	if (!scheme.cluster && nodes.length > 1) throw new Error("names several nodes: a Redis Cluster's URL starts with redis-cluster://");
	if (scheme.cluster && Number(db || 0) !== 0) throw new Error("names a database: a Redis Cluster has database 0 only");
	const colon = userinfo?.indexOf(":") ?? -1;
	const decode = (s: string | undefined) => (s ? decodeURIComponent(s) : undefined);
	return {
		...scheme,
		nodes: nodes.map(n => ({ host: n![1] ?? n![2]!, port: Number(n![3] ?? 6379) })),
		username: decode(colon < 0 ? userinfo : userinfo!.slice(0, colon)),
		password: decode(colon < 0 ? undefined : userinfo!.slice(colon + 1)),
		db: Number(db || 0),
	};
}

/** REDIS_URL's parser: the URL as written, once `redisTarget` takes it. */
export const redisUrl = optionalString.superRefine((v, ctx) => {
	if (v === undefined) return;
	try {
		redisTarget(v);
	} catch (err) {
		ctx.addIssue({ code: "custom", message: (err as Error).message });
	}
});
