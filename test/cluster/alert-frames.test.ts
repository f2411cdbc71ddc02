import { ServiceBroker } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERT_EVENTS } from "../../gateways/live/alerts.ts";
import { mintDevToken } from "../../lib/auth.ts";
import { domainEvent, type DomainEvent } from "../../lib/events.ts";
import type { AlertFired } from "../../services/alerts/contract.ts";
import { testEnv, uniqueNamespace, waitFor, TEST_DEV_SECRET, TEST_NATS_URL as NATS_URL } from "../helpers/engine.ts";
import { activeVendor, LiveClient } from "../helpers/live.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";

type Node = { name: string; proc: NodeProcess; port: number; livePort: number };
const SPOT = { lat: 52.52, lng: 13.405 };

/** A fired alert in the envelope geo emits it in. */
function alertEvent(userId: string): DomainEvent<AlertFired> {
	const data: AlertFired = {
		fenceId: "alr_cluster01",
		kind: "vendor_nearby",
		userId,
		vendorId: "ven_cluster01",
		transition: "enter",
		distance: 321,
		position: { lat: 52.52, lng: 13.405, ts: Date.now() },
	};
	return domainEvent("location.proximity_alert", data, { userId, vendorId: data.vendorId }, { source: "geo@test" });
}

/**
 * Two live processes over real NATS (A also runs the REST gateway, users, vendors, alerts and geo),
 * and this test's own broker, which emits alert events as geo would.
 */
describe("alert frames across live nodes", () => {
	const namespace = uniqueNamespace("alerts");
	const nodes: Record<"a" | "b", Node> = {} as never;
	const clients: LiveClient[] = [];
	const emitter = new ServiceBroker({
		namespace,
		nodeID: `${namespace}-emitter`,
		transporter: { type: "NATS", options: { url: NATS_URL } },
		logger: false,
	});
	const liveUrl = (n: Node, query = "") => `ws://127.0.0.1:${n.livePort}/live${query}`;
	const open = async (n: Node, query = "") => {
		// A socket signed in at the upgrade may be dropped right after open (docs/live-protocol.md): reconnect as a client would.
		const c = query.includes("token=") ? await LiveClient.openAnswering(liveUrl(n, query)) : await LiveClient.open(liveUrl(n, query));
		clients.push(c);
		return c;
	};

	beforeAll(async () => {
		const start = async (name: "a" | "b", services: string) => {
			const env = await testEnv({
				NATS_URL,
				NAMESPACE: namespace,
				NODE_ID: `${namespace}-${name}`,
				SERVICES: services,
				PORT: String(await freePort()),
				LIVE_PORT: String(await freePort()),
			});
			nodes[name] = { name, proc: spawnNode("server.ts", env), port: Number(env.PORT), livePort: Number(env.LIVE_PORT) };
		};
		await start("a", "api,users,vendors,alerts,geo,live");
		await start("b", "live");
		for (const n of Object.values(nodes))
			await waitForHttp(`http://127.0.0.1:${n.livePort}/health/ready`, 30_000).catch(err => {
				throw new Error(`${n.name} did not start: ${err.message}\n${n.proc.output()}`);
			});
		await emitter.start();
		await waitFor(() => emitter.registry.getNodeList({ onlyAvailable: true, withServices: false }).length === 3, {
			timeout: 20_000,
			what: "the emitter sees both live nodes",
		});
	});

	afterAll(async () => {
		for (const c of clients) c.close();
		await emitter.stop();
		await Promise.all(Object.values(nodes).map(n => n.proc.kill()));
	});

	it("reaches every socket of the user on both nodes, once each, and no other user's", async () => {
		const onA = await open(nodes.a, `?token=${await mintDevToken(TEST_DEV_SECRET, "user_cluster_alert")}`);
		// B signs its sockets in through users on A (over the mesh): retry until B knows the users service.
		const signIn = (c: LiveClient, sub: string) =>
			waitFor(
				async () => {
					c.send({ op: "auth", token: await mintDevToken(TEST_DEV_SECRET, sub) });
					return (await c.next(f => f.op === "authed" || f.op === "error")).op === "authed";
				},
				{ timeout: 15_000, interval: 200, what: `${sub} signed in on B` }
			);
		const onB = await open(nodes.b);
		await signIn(onB, "user_cluster_alert");
		const otherOnB = await open(nodes.b);
		await signIn(otherOnB, "user_cluster_other");

		const event = alertEvent("user_cluster_alert");
		await emitter.emit(ALERT_EVENTS[0], event);
		const expected = { op: "alert", eventId: event.meta.eventId, fenceId: "alr_cluster01", kind: "vendor_nearby", distance: 321 };
		expect(await onA.nextOp("alert")).toMatchObject(expected);
		expect(await onB.nextOp("alert")).toMatchObject(expected);

		// The other user's alert, emitted after: it reaching B proves the first had its time to arrive.
		const other = alertEvent("user_cluster_other");
		await emitter.emit(ALERT_EVENTS[1], other);
		expect(await otherOnB.nextOp("alert")).toMatchObject({ eventId: other.meta.eventId });
		await new Promise(r => setTimeout(r, 300));
		for (const c of [onA, onB, otherOnB]) expect(c.frames.filter(f => f.op === "alert")).toHaveLength(1);
	});

	it("the real path: a customer on B sets an alert over REST, a vendor on A drives in, B's socket gets the frame", async () => {
		const api = `http://127.0.0.1:${nodes.a.port}`;
		const owner = await mintDevToken(TEST_DEV_SECRET, "user_cluster_truck");
		const customer = await mintDevToken(TEST_DEV_SECRET, "user_cluster_customer");
		const vendorId = await activeVendor(api, owner);
		const created = await fetch(`${api}/api/me/alerts`, {
			method: "POST",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${customer}` },
			body: JSON.stringify({ kind: "vendor_nearby", vendor: { id: vendorId }, radius: 500, at: SPOT }),
		});
		expect(created.status).toBe(201);
		const alert = (await created.json()) as { id: string };

		const onB = await open(nodes.b, `?token=${customer}`);
		const vendor = await open(nodes.a, `?token=${owner}&vendor=${vendorId}`);
		// Far away first (outside), then 300 m from the point: one enter. geo may take a moment to have the fence.
		vendor.send({ op: "pos", lat: SPOT.lat + 0.05, lng: SPOT.lng });
		const frame = await waitFor(
			async () => {
				vendor.send({ op: "pos", lat: SPOT.lat + 0.05, lng: SPOT.lng });
				await new Promise(r => setTimeout(r, 150));
				vendor.send({ op: "pos", lat: SPOT.lat + 0.0027, lng: SPOT.lng });
				return await onB.nextOp("alert", 1_000).catch(() => undefined);
			},
			{ timeout: 20_000, interval: 300, what: "the alert frame on B" }
		);
		expect(frame).toMatchObject({ op: "alert", fenceId: alert.id, kind: "vendor_nearby", vendorId, transition: "enter" });
		expect(frame.distance as number).toBeGreaterThan(250);
		expect(frame.distance as number).toBeLessThan(350);
	});

	it("follows the customer: `here` shared on B re-centers the alert that geo on A evaluates", async () => {
		const api = `http://127.0.0.1:${nodes.a.port}`;
		const owner = await mintDevToken(TEST_DEV_SECRET, "user_cluster_cart");
		const customer = await mintDevToken(TEST_DEV_SECRET, "user_cluster_walker");
		const vendorId = await activeVendor(api, owner, "Coffee Cart");
		const created = await fetch(`${api}/api/me/alerts`, {
			method: "POST",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${customer}` },
			body: JSON.stringify({ kind: "vendor_nearby", vendor: { id: vendorId }, radius: 500, at: "here" }),
		});
		expect(created.status).toBe(201);
		const alert = (await created.json()) as { id: string };

		const walker = { lat: SPOT.lat - 0.1, lng: SPOT.lng + 0.1 };
		const onB = await open(nodes.b, `?token=${customer}`);
		const vendor = await open(nodes.a, `?token=${owner}&vendor=${vendorId}`);
		const frame = await waitFor(
			async () => {
				onB.send({ op: "here", ...walker });
				vendor.send({ op: "pos", lat: walker.lat + 0.05, lng: walker.lng });
				await new Promise(r => setTimeout(r, 1_100));
				vendor.send({ op: "pos", lat: walker.lat + 0.0018, lng: walker.lng });
				return await onB.nextOp("alert", 1_000).catch(() => undefined);
			},
			{ timeout: 25_000, interval: 100, what: "the roaming alert's frame on B" }
		);
		expect(frame).toMatchObject({ op: "alert", fenceId: alert.id, vendorId, transition: "enter" });
		expect(frame.distance as number).toBeLessThan(250);
	}, 40_000);
});
