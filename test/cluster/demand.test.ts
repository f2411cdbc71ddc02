import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { gridDisk, latLngToCell } from "h3-js";
import { loadConfig } from "../../config/index.ts";
import { createBrokerOptions } from "../../moleculer.config.ts";
import {
	AS_OPERATOR,
	deleteRedisKeys,
	testEnv,
	uniqueNamespace,
	waitFor,
	TEST_DEV_SECRET,
	TEST_NATS_URL as NATS_URL,
	TEST_REDIS_URL as REDIS_URL,
} from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { activeVendor, LiveClient, type Frame } from "../helpers/live.ts";
import { mintDevToken } from "../../lib/auth.ts";
import type { LiveStats } from "../../gateways/live/contract.ts";
import type { DemandCounts } from "../../services/discovery/contract.ts";

const RES = 8;
const BERLIN = { lat: 52.52, lng: 13.405 };
const CELL = latLngToCell(BERLIN.lat, BERLIN.lng, RES);
const NEIGHBOUR = gridDisk(CELL, 1)[2]!;
const BOX = "13.3,52.45,13.5,52.6";

type Name = "a" | "b" | "c";
type Node = { id: string; proc: NodeProcess; port: number; livePort: number };

/**
 * Three live nodes over the shared NATS (A also runs the marketplace and geo), and a caller in the
 * mesh asking each node: watcher counts agree cluster-wide with the sockets opened on several
 * nodes, whichever node answers; nodes join and leave; a node that needs no counts gets none.
 */
describe("demand signals across live nodes (NATS)", () => {
	const namespace = uniqueNamespace("demand");
	const nodes: Partial<Record<Name, Node>> = {};
	const clients: LiveClient[] = [];
	let caller: ServiceBroker;

	const start = async (name: Name, services: string) => {
		const env = await testEnv({
			NATS_URL,
			NAMESPACE: namespace,
			NODE_ID: `${namespace}-${name}`,
			SERVICES: services,
			REDIS_URL,
			PORT: String(await freePort()),
			LIVE_PORT: String(await freePort()),
		});
		const node = { id: env.NODE_ID!, proc: spawnNode("server.ts", env), port: Number(env.PORT), livePort: Number(env.LIVE_PORT) };
		nodes[name] = node;
		await waitForHttp(`http://127.0.0.1:${node.livePort}/health/ready`, 30_000).catch(err => {
			throw new Error(`${name} did not start: ${err.message}\n${node.proc.output()}`);
		});
		await waitFor(() => caller.registry.getActionEndpoints("live.demand")?.endpoints.some(e => e.id === node.id), {
			timeout: 20_000,
			what: `${name} in the caller's registry`,
		});
	};
	const node = (name: Name) => nodes[name]!;
	const open = async (name: Name, query = "") => {
		const url = `ws://127.0.0.1:${node(name).livePort}/live${query}`;
		// A socket signed in at the upgrade may be dropped right after open (docs/live-protocol.md): reconnect as a client would.
		const client = query.includes("token=") ? await LiveClient.openAnswering(url) : await LiveClient.open(url);
		clients.push(client);
		return client;
	};
	const watchers = async (name: Name, n: number, cells: string[]) => {
		const opened = await Promise.all(Array.from({ length: n }, () => open(name)));
		// A watcher's snapshot comes from geo on A, which a fresh node learns of through the mesh.
		await Promise.all(opened.map(c => waitFor(() => c.watch({ cells }), { timeout: 15_000, interval: 200, what: "a snapshot" })));
		return opened;
	};
	const demandOn = (name: Name) =>
		caller.call<DemandCounts, { bbox: string }>("live.demand", { bbox: BOX }, { ...AS_OPERATOR, nodeID: node(name).id });
	const countsOn = async (name: Name) => {
		const answer = await demandOn(name);
		return { nodes: answer.nodes, cells: Object.fromEntries(answer.cells.map(c => [c.cell, c.watchers])) };
	};
	const statsOn = (name: Name) => caller.call<LiveStats, object>("live.stats", {}, { nodeID: node(name).id });
	const agree = (name: Name, expected: { nodes: number; cells: Record<string, number> }, what: string) =>
		waitFor(async () => isDeepStrictEqual(await countsOn(name), expected), { timeout: 20_000, interval: 250, what }).catch(async err => {
			throw new Error(`${err.message}; ${name} answers ${JSON.stringify(await countsOn(name))}`);
		});

	beforeAll(async () => {
		caller = new ServiceBroker(
			createBrokerOptions(loadConfig(await testEnv({ NATS_URL, NAMESPACE: namespace, NODE_ID: `${namespace}-caller` })))
		);
		await caller.start();
		await start("a", "api,users,vendors,geo,live");
		await start("b", "live");
		await waitFor(async () => (await fetch(`http://127.0.0.1:${node("a").port}/api/vendors?pageSize=1`)).status === 200, {
			timeout: 20_000,
			what: "REST routes on A",
		});
	}, 90_000);

	afterAll(async () => {
		for (const c of clients) c.close();
		await Promise.all(Object.values(nodes).map(n => n.proc.kill()));
		await caller?.stop();
		await deleteRedisKeys(`${namespace}:geo:*`, `${namespace}-cache*`);
	});

	it("counts agree across nodes as they join and leave; a vendor on A hears of watchers on B; a node needing no counts gets none", async () => {
		const owner = await mintDevToken(TEST_DEV_SECRET, "user_demand_cluster_owner");
		const vendorId = await activeVendor(`http://127.0.0.1:${node("a").port}`, owner);
		const vendor = await open("a", `?token=${owner}&vendor=${vendorId}`);
		vendor.send({ op: "pos", ...BERLIN });
		const floor = await vendor.nextOp("interest", 10_000);
		expect(floor).toEqual({ op: "interest", watchers: 0, suggestedHz: 0.1 });

		// Watchers on A and B: every node answers the same counts.
		const onA = await watchers("a", 1, [CELL]);
		const onB = await watchers("b", 3, [CELL, NEIGHBOUR]);
		const both = { nodes: 2, cells: { [CELL]: 4, [NEIGHBOUR]: 3 } };
		await agree("b", both, "B's answer with A's counts (asked)");
		await agree("a", both, "A's answer with B's counts (published)");

		// The vendor's socket on A is told of B's watchers.
		const told = await vendor.next((f: Frame) => f.op === "interest" && (f.watchers as number) >= 3, 15_000);
		expect(told.suggestedHz as number).toBeGreaterThan(0.1);

		// C joins: with no vendor and no query it follows nothing, and receives no counts even once it has watchers there.
		await start("c", "live");
		const onC = await watchers("c", 2, [CELL]);
		await agree("a", { nodes: 3, cells: { [CELL]: 6, [NEIGHBOUR]: 3 } }, "C's watchers on A");
		const c = await statsOn("c");
		expect(c.demand).toMatchObject({ follows: 0, subjects: [], received: 0 });
		expect(c.demand.published).toBeGreaterThan(0);
		await agree("c", { nodes: 3, cells: { [CELL]: 6, [NEIGHBOUR]: 3 } }, "C's own answer");
		expect((await statsOn("c")).demand.follows).toBeGreaterThan(0);

		// Sockets closing: counts fall back everywhere.
		onB[0]!.close();
		onC[0]!.close();
		await agree("a", { nodes: 3, cells: { [CELL]: 4, [NEIGHBOUR]: 2 } }, "counts after two sockets closed");
		await agree("b", { nodes: 3, cells: { [CELL]: 4, [NEIGHBOUR]: 2 } }, "B's counts after two sockets closed");

		// C is killed: its counts vanish (node gone from the registry, or expired).
		await node("c").proc.kill("SIGKILL");
		await agree("a", { nodes: 2, cells: { [CELL]: 3, [NEIGHBOUR]: 2 } }, "C's counts gone after SIGKILL");

		// B stops: its counts vanish too, and A's vendor is told nobody is left but A's own watcher.
		expect(await node("b").proc.kill("SIGTERM")).toBe(0);
		await agree("a", { nodes: 1, cells: { [CELL]: 1 } }, "B's counts gone after it stopped");
		onA[0]!.close();
		await agree("a", { nodes: 1, cells: {} }, "no watchers left");
		const last = await vendor.next((f: Frame) => f.op === "interest" && f.suggestedHz === 0.1, 15_000);
		expect(last).toEqual({ op: "interest", watchers: 0, suggestedHz: 0.1 });
	}, 180_000);
});
