import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import {
	deleteRedisKeys,
	testEnv,
	uniqueNamespace,
	waitFor,
	TEST_DEV_SECRET,
	TEST_REDIS_URL as REDIS_URL,
	TEST_NATS_URL as NATS_URL,
} from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { activeVendor, LiveClient, metricValue } from "../helpers/live.ts";
import { mintDevToken } from "../../lib/auth.ts";
import { routingCell } from "../../gateways/live/cells.ts";
import { CLOSE_CODES } from "../../gateways/live/protocol/codes.ts";

const BERLIN = { lat: 52.52, lng: 13.405 };
const MUNICH = { lat: 48.137, lng: 11.575 };
const cellAt = (p: { lat: number; lng: number }) => latLngToCell(p.lat, p.lng, 8);

type Node = { name: string; proc: NodeProcess; port: number; livePort: number };

/**
 * Three gateway processes over real NATS: A hosts the vendor's socket (and the marketplace
 * and geo services, geo on the Redis store), B has a watcher, C has no watchers at all.
 */
describe("live gateways across nodes (interest-based routing over NATS)", () => {
	const namespace = uniqueNamespace("live");
	const nodes: Record<"a" | "b" | "c", Node> = {} as never;
	const clients: LiveClient[] = [];
	const liveUrl = (n: Node, query = "") => `ws://127.0.0.1:${n.livePort}/live${query}`;
	const routedIn = async (n: Node) =>
		metricValue(await (await fetch(`http://127.0.0.1:${n.livePort}/metrics`)).text(), "venta_live_routed_in_total") ?? -1;

	beforeAll(async () => {
		const start = async (name: "a" | "b" | "c", services: string) => {
			const env = await testEnv({
				NATS_URL,
				NAMESPACE: namespace,
				NODE_ID: `${namespace}-${name}`,
				SERVICES: services,
				REDIS_URL,
				PORT: String(await freePort()),
				LIVE_PORT: String(await freePort()),
			});
			nodes[name] = { name, proc: spawnNode("server.ts", env), port: Number(env.PORT), livePort: Number(env.LIVE_PORT) };
		};
		await start("a", "api,users,vendors,geo,live");
		await start("b", "live");
		await start("c", "live");
		for (const n of Object.values(nodes))
			await waitForHttp(`http://127.0.0.1:${n.livePort}/health/ready`, 30_000).catch(err => {
				throw new Error(`${n.name} did not start: ${err.message}\n${n.proc.output()}`);
			});
		await waitFor(async () => (await fetch(`http://127.0.0.1:${nodes.a.port}/api/vendors?pageSize=1`)).status === 200, {
			timeout: 20_000,
			what: "REST routes on A",
		});
	});

	afterAll(async () => {
		for (const c of clients) c.close();
		await Promise.all(Object.values(nodes).map(n => n.proc.kill()));
		await deleteRedisKeys(`${namespace}:geo:*`, `${namespace}-cache*`);
	});

	it("delivers a vendor on node A to a watcher on node B; node C receives nothing", async () => {
		const owner = await mintDevToken(TEST_DEV_SECRET, "user_cluster_owner");
		const vendorId = await activeVendor(`http://127.0.0.1:${nodes.a.port}`, owner);

		const watcher = await LiveClient.open(liveUrl(nodes.b));
		clients.push(watcher);
		// B learns about geo (on A) through the mesh; until then its snapshot cannot be read.
		await waitFor(() => watcher.watch({ cells: [cellAt(BERLIN)] }), { timeout: 15_000, interval: 200, what: "a snapshot on B" });
		const vendor = await LiveClient.openAnswering(liveUrl(nodes.a, `?token=${owner}&vendor=${vendorId}`));
		clients.push(vendor);

		vendor.send({ op: "pos", ...BERLIN });
		expect(await watcher.nextOp("pos")).toMatchObject({ op: "pos", id: vendorId, ...BERLIN, cell: cellAt(BERLIN) });
		expect(await routedIn(nodes.b)).toBeGreaterThanOrEqual(1);

		// A second watcher on B gets the vendor in its snapshot (geo on A answers B) once A has
		// stored the position: the store follows the stream within A's write window (25 ms).
		const second = await LiveClient.open(liveUrl(nodes.b));
		clients.push(second);
		const snapshot = await waitFor(
			async () => {
				const answer = await second.watch({ near: { ...BERLIN, radius: 200 } });
				return (answer.vendors as unknown[]).length > 0 ? answer : undefined;
			},
			{ timeout: 2_000, interval: 30, what: "the vendor in a snapshot on B" }
		);
		expect(snapshot.vendors).toMatchObject([{ id: vendorId, cell: cellAt(BERLIN) }]);
		second.close();

		// Routing follows the watch set: B moves its watcher to Munich.
		expect(routingCell(cellAt(MUNICH), 8)).not.toBe(routingCell(cellAt(BERLIN), 8));
		await watcher.watch({ cells: [cellAt(MUNICH)] });
		const before = await routedIn(nodes.b);
		await new Promise(r => setTimeout(r, 300));
		vendor.send({ op: "pos", lat: BERLIN.lat + 0.0001, lng: BERLIN.lng });
		await new Promise(r => setTimeout(r, 600));
		expect(await routedIn(nodes.b)).toBe(before);
		expect(watcher.frames.filter(f => f.op === "pos")).toHaveLength(1);

		vendor.send({ op: "pos", ...MUNICH });
		expect(await watcher.nextOp("pos")).toMatchObject({ id: vendorId, cell: cellAt(MUNICH) });
		expect(await routedIn(nodes.b)).toBe(before + 1);

		// Leaving: the vendor's socket closes on A, B's watcher of Munich is told.
		vendor.close();
		expect(await watcher.nextOp("gone")).toEqual({ op: "gone", id: vendorId, cell: cellAt(MUNICH) });

		// A REST position (api and geo on A) reaches B's watcher the same way.
		const posted = await fetch(`http://127.0.0.1:${nodes.a.port}/api/vendors/${vendorId}/location`, {
			method: "POST",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${owner}` },
			body: JSON.stringify({ ...MUNICH, spd: 3 }),
		});
		expect(posted.status).toBe(200);
		expect(await watcher.nextOp("pos")).toMatchObject({ id: vendorId, cell: cellAt(MUNICH), spd: 3 });

		// A vendor socket on C publishes (C still receives nothing); pausing the vendor over REST
		// on A closes that socket on C (BROADCAST_REVOKED) and B's watcher is told it is gone.
		const onC = await LiveClient.openAnswering(liveUrl(nodes.c, `?token=${owner}&vendor=${vendorId}`));
		clients.push(onC);
		await new Promise(r => setTimeout(r, 250));
		onC.send({ op: "pos", ...MUNICH, hdg: 270 });
		expect(await watcher.nextOp("pos")).toMatchObject({ id: vendorId, hdg: 270 });
		const paused = await fetch(`http://127.0.0.1:${nodes.a.port}/api/vendors/${vendorId}/status`, {
			method: "POST",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${owner}` },
			body: JSON.stringify({ status: "paused" }),
		});
		expect(paused.status).toBe(200);
		expect(await onC.closed()).toBe(CLOSE_CODES.BROADCAST_REVOKED);
		expect(await watcher.nextOp("gone")).toEqual({ op: "gone", id: vendorId, cell: cellAt(MUNICH) });

		expect(await routedIn(nodes.c)).toBe(0);

		// SIGTERM on B: its watcher is told to reconnect (4000) and the process exits cleanly.
		expect(await nodes.b.proc.kill("SIGTERM")).toBe(0);
		expect(await watcher.closed()).toBe(CLOSE_CODES.RECONNECT);
	});
});
