import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { waitFor } from "./engine.ts";
import { freePort } from "./ports.ts";

/**
 * NATS and Redis servers a test owns: started on free ports, stopped and started again by PID.
 * Tests that break servers use these, never the shared ones of the machine.
 */
export type OwnServer = {
	url: string;
	port: number;
	/** Kills the server (SIGKILL: as a crash would) and waits until its port is closed. */
	stop(): Promise<void>;
	/** Starts it again on the same port and waits until it accepts connections. */
	start(): Promise<void>;
};

const portOpen = (port: number) =>
	new Promise<boolean>(resolve => {
		const socket = connect(port, "127.0.0.1");
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});

function ownServer(scheme: string, command: string, args: (port: number) => string[], cleanup?: () => void): Promise<OwnServer> {
	return freePort().then(async port => {
		let child: ChildProcess | null = null;
		const server: OwnServer = {
			url: `${scheme}://127.0.0.1:${port}`,
			port,
			async start() {
				child = spawn(command, args(port), { stdio: "ignore" });
				await waitFor(() => portOpen(port), { timeout: 10_000, interval: 50, what: `${command} on ${port}` });
			},
			async stop() {
				const running = child;
				child = null;
				if (running && running.exitCode === null) {
					const exited = new Promise(r => running.once("exit", r));
					running.kill("SIGKILL");
					await exited;
				}
				await waitFor(async () => !(await portOpen(port)), { timeout: 10_000, interval: 50, what: `${command} on ${port} to stop` });
			},
		};
		await server.start();
		process.once("exit", () => {
			child?.kill("SIGKILL");
			cleanup?.();
		});
		return server;
	});
}

/** A nats-server of the test's own (no JetStream: only the outbound role uses it); `args` add e.g. credentials or TLS. */
export function startOwnNats(args: string[] = []): Promise<OwnServer> {
	return ownServer("nats", "nats-server", port => ["-a", "127.0.0.1", "-p", String(port), ...args]);
}

/** A redis-server of the test's own, keeping nothing on disk. */
export function startOwnRedis(): Promise<OwnServer> {
	const dir = mkdtempSync(join(tmpdir(), "venta-redis-"));
	return ownServer(
		"redis",
		"redis-server",
		port => ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir],
		() => rmSync(dir, { recursive: true, force: true })
	);
}

/** A NATS cluster of the test's own: its servers (each stoppable by PID) and their client URLs. */
export type OwnNatsCluster = {
	servers: OwnServer[];
	/** The servers' client URLs as one NATS_URL, beginning with server `first` (nats.js tries them in random order; /connz says where a client is). */
	url(first?: number): string;
	/** Waits until every running server has a route to every other running one. */
	routed(): Promise<void>;
	/** Each server's monitoring endpoint (`/varz`, `/connz`, `/routez`), in the order of `servers`. */
	monitorUrls: string[];
};

const routeCount = async (monitorPort: number): Promise<number> => {
	const res = await fetch(`http://127.0.0.1:${monitorPort}/routez`);
	return ((await res.json()) as { num_routes: number }).num_routes;
};

/**
 * `n` nats-servers routed to each other on loopback (one cluster name, every server listing the
 * others' route ports), each with a monitoring port for /routez. A server started again
 * counts as up once its routes are back, not merely when its client port opens.
 */
export async function startOwnNatsCluster(n = 3): Promise<OwnNatsCluster> {
	const routePorts = await Promise.all(Array.from({ length: n }, () => freePort()));
	const monitorPorts = await Promise.all(Array.from({ length: n }, () => freePort()));
	const running = new Set<number>();
	const routed = () =>
		waitFor(
			async () => {
				const counts = await Promise.all([...running].map(i => routeCount(monitorPorts[i]!)));
				return counts.every(count => count >= running.size - 1);
			},
			{ timeout: 15_000, interval: 100, what: "the NATS cluster's routes" }
		).then(() => undefined);
	const servers: OwnServer[] = [];
	for (let i = 0; i < n; i++) {
		const routes = routePorts.filter((_, j) => j !== i).map(p => `nats://127.0.0.1:${p}`);
		const server = await ownServer("nats", "nats-server", port => [
			...["-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPorts[i])],
			...["--cluster_name", "venta-test", "--cluster", `nats://127.0.0.1:${routePorts[i]}`, "--routes", routes.join(",")],
		]);
		running.add(i);
		servers.push({
			...server,
			async stop() {
				running.delete(i);
				await server.stop();
			},
			async start() {
				await server.start();
				running.add(i);
				await routed();
			},
		});
	}
	await routed();
	const urls = servers.map(s => s.url);
	return {
		servers,
		url: (first = 0) => [...urls.slice(first), ...urls.slice(0, first)].join(","),
		routed,
		monitorUrls: monitorPorts.map(p => `http://127.0.0.1:${p}`),
	};
}

/** A Redis Cluster of the test's own: its masters (each a plain `redis://` server, stoppable by PID) and its REDIS_URL. */
export type OwnRedisCluster = {
	/** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,…` */
	url: string;
	masters: OwnServer[];
	/** Waits until every master reports `cluster_state:ok`. */
	healthy(): Promise<void>;
	/** The keys matching `pattern` on each master, in the order of `masters`. */
	keys(pattern: string): Promise<string[][]>;
	/** Which master (its index in `masters`) serves the key's slot. */
	masterOf(key: string): Promise<number>;
	stop(): Promise<void>;
};

/** Runs `use` on a plain connection to one server. */
async function onServer<T>(url: string, use: (redis: Redis) => Promise<T>): Promise<T> {
	const redis = new Redis(url, { maxRetriesPerRequest: 0 });
	try {
		return await use(redis);
	} finally {
		redis.disconnect();
	}
}

const clusterStateOk = async (url: string): Promise<boolean> => {
	const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
	try {
		await redis.connect();
		return /cluster_state:ok/.test(await redis.cluster("INFO"));
	} catch {
		return false;
	} finally {
		redis.disconnect();
	}
};

/**
 * `masters` redis-servers with `--cluster-enabled yes` (no replicas, nothing on disk but each
 * node's cluster config), joined by `redis-cli --cluster create`. A master stopped and started
 * again rejoins with its slots; the others keep serving theirs meanwhile (full coverage is not
 * required, as a test that stops one needs).
 */
export async function startOwnRedisCluster(masters = 3): Promise<OwnRedisCluster> {
	const dir = mkdtempSync(join(tmpdir(), "venta-redis-cluster-"));
	const servers: OwnServer[] = [];
	for (let i = 0; i < masters; i++) {
		servers.push(
			await ownServer("redis", "redis-server", port => [
				...["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir],
				...["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "2000"],
				...["--cluster-require-full-coverage", "no"],
			])
		);
	}
	await promisify(execFile)("redis-cli", [
		"--cluster",
		"create",
		...servers.map(s => `127.0.0.1:${s.port}`),
		"--cluster-replicas",
		"0",
		"--cluster-yes",
	]);
	const healthy = () =>
		waitFor(async () => (await Promise.all(servers.map(s => clusterStateOk(s.url)))).every(Boolean), {
			timeout: 20_000,
			interval: 100,
			what: "the Redis Cluster's state ok",
		}).then(() => undefined);
	await healthy();
	return {
		url: `redis-cluster://${servers.map(s => `127.0.0.1:${s.port}`).join(",")}`,
		masters: servers,
		healthy,
		keys: pattern => Promise.all(servers.map(s => onServer(s.url, redis => redis.keys(pattern)))),
		masterOf: key =>
			onServer(servers[0]!.url, async redis => {
				const slot = (await redis.cluster("KEYSLOT", key)) as number;
				const [, , master] = (await redis.cluster("SLOTS")).find(([from, to]) => slot >= from && slot <= to)!;
				return servers.findIndex(s => s.port === master![1]);
			}),
		async stop() {
			await Promise.all(servers.map(s => s.stop()));
			rmSync(dir, { recursive: true, force: true });
		},
	};
}
