import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv, uniqueNamespace, waitFor, TEST_DEV_SECRET, TEST_NATS_URL as NATS_URL } from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { activeVendor } from "../helpers/live.ts";
import { mintDevToken } from "../../lib/auth.ts";
import { connect, connectVendor, VendorsInView, type StateChange, type VendorPublisher } from "../../packages/client/src/index.ts";

const SPOT = { lat: 52.52, lng: 13.405 };
const BBOX = [13.4, 52.515, 13.41, 52.525] as const;

type Node = { proc: NodeProcess; port: number; livePort: number };

/**
 * The SDK across a failing node: a core process (REST, marketplace, geo) and two live-only
 * processes over real NATS. The watcher's live node is killed; the client reconnects to the other
 * one, sends its watch again, and its VendorsInView converges to what is live now.
 */
describe("@venta/client when its live node dies", () => {
	const namespace = uniqueNamespace("sdk");
	const nodes: Record<"core" | "b" | "c", Node> = {} as never;
	const closers: Array<() => unknown> = [];

	beforeAll(async () => {
		const start = async (name: "core" | "b" | "c", services: string) => {
			const env = await testEnv({
				NATS_URL,
				NAMESPACE: namespace,
				NODE_ID: `${namespace}-${name}`,
				SERVICES: services,
				PORT: String(await freePort()),
				LIVE_PORT: String(await freePort()),
			});
			nodes[name] = { proc: spawnNode("server.ts", env), port: Number(env.PORT), livePort: Number(env.LIVE_PORT) };
		};
		await start("core", "api,users,vendors,discovery,geo");
		await start("b", "live");
		await start("c", "live");
		await waitForHttp(`http://127.0.0.1:${nodes.core.port}/health/ready`, 30_000);
		for (const n of [nodes.b, nodes.c]) await waitForHttp(`http://127.0.0.1:${n.livePort}/health/ready`, 30_000);
		await waitFor(async () => (await fetch(`http://127.0.0.1:${nodes.core.port}/api/vendors?pageSize=1`)).status === 200, {
			timeout: 20_000,
			what: "REST routes on the core node",
		});
	});
	afterAll(async () => {
		for (const close of closers) await close();
		await Promise.all(Object.values(nodes).map(n => n.proc.kill()));
	});

	const liveUrl = (n: Node) => `ws://127.0.0.1:${n.livePort}/live`;
	const vendor = async (name: string): Promise<{ id: string; publisher: VendorPublisher }> => {
		const owner = `user_failover_${name.toLowerCase().replace(/\W+/g, "_")}`;
		const id = await activeVendor(`http://127.0.0.1:${nodes.core.port}`, await mintDevToken(TEST_DEV_SECRET, owner), name);
		// The vendors stream through node C, which stays up.
		const publisher = connectVendor({ url: liveUrl(nodes.c), vendor: id, maxHz: 5, getToken: () => mintDevToken(TEST_DEV_SECRET, owner) });
		closers.push(() => publisher.close());
		await waitFor(() => publisher.live.authed, { timeout: 15_000, what: `${name} signed in` });
		return { id, publisher };
	};

	it("reconnects to another node, sends its watch again and converges", async () => {
		const { id: movingVendor, publisher: moving } = await vendor("Moving Cart");
		const { id: leavingVendor, publisher: leaving } = await vendor("Leaving Cart");

		// A load balancer in front of B and C, as the URL function: B first, then C.
		const tried: string[] = [];
		const url = () => {
			tried.push(tried.length === 0 ? liveUrl(nodes.b) : liveUrl(nodes.c));
			return tried.at(-1)!;
		};
		// A reconnect 2–4 s after the loss: time for a vendor to go offline while the client is away.
		const watcher = connect({ url, backoff: { initialMs: 4_000, maxMs: 4_000 } });
		closers.push(() => watcher.close());
		const states: StateChange[] = [];
		watcher.on("state", s => states.push(s));
		const view = new VendorsInView(watcher);
		watcher.watch({ bbox: BBOX });

		let step = 0;
		const mover = setInterval(() => {
			step++;
			moving.publish({ lat: SPOT.lat + step * 0.00002, lng: SPOT.lng });
			if (leaving.live.state === "open") leaving.publish({ lat: SPOT.lat - 0.001, lng: SPOT.lng + step * 0.00001 });
		}, 200);
		closers.push(() => clearInterval(mover));
		await waitFor(() => view.get(movingVendor) && view.get(leavingVendor), {
			timeout: 20_000,
			what: "both vendors in view through node B",
		});
		expect(tried).toHaveLength(1);

		// Node B dies without a word (no 4000): the client sees a lost connection and retries on C.
		const removed: string[] = [];
		view.on("remove", v => removed.push(v.id));
		await nodes.b.proc.kill("SIGKILL");
		await waitFor(() => states.some(s => s.state === "reconnecting"), { what: "the client to notice" });
		// While it is away the leaving vendor goes offline: no `gone` reaches this client.
		await leaving.close();
		await waitFor(
			async () => {
				const res = await fetch(`http://127.0.0.1:${nodes.core.port}/api/vendors/${leavingVendor}/location`);
				return ((await res.json()) as { online: boolean }).online === false;
			},
			{ what: "the leaving vendor offline" }
		);
		expect(watcher.state).toBe("reconnecting");
		expect(view.get(leavingVendor)).toBeDefined();
		await waitFor(() => watcher.state === "open" && tried.length >= 2, { timeout: 20_000, what: "the client on node C" });
		expect(states.find(s => s.state === "reconnecting")).toMatchObject({ action: "retry" });

		// The fresh snapshot removes the vendor that left, and the moving one keeps moving.
		await waitFor(() => view.get(leavingVendor) === undefined, { timeout: 10_000, what: "the vendor gone while away removed" });
		expect(removed).toContain(leavingVendor);
		const seen = view.get(movingVendor)!.ts;
		await waitFor(() => (view.get(movingVendor)?.ts ?? 0) > seen + 500, { timeout: 10_000, what: "moves streamed through node C" });
		expect(view.size).toBe(1);
		expect(removed).not.toContain(movingVendor);
	}, 90_000);
});
