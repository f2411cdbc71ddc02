import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { cellToParent, latLngToCell } from "h3-js";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../config/index.ts";
import { createBrokerOptions } from "../../moleculer.config.ts";
import { mintDevToken } from "../../lib/auth.ts";
import { inboxList, inboxReplay, kickVendor, setUserRole, setVendorStatus, vendorReport } from "../../scripts/repl/ops/admin.ts";
import { operatorCaller } from "../../lib/identity.ts";
import { liveNodes, liveRates, sampleLive, socketList, socketsReport } from "../../scripts/repl/ops/live.ts";
import { busiestCells, nearby, onlineVendors } from "../../scripts/repl/ops/where.ts";
import { CLOSE_CODES } from "../../gateways/live/protocol/codes.ts";
import {
	deleteRedisKeys,
	uniqueNamespace,
	waitFor,
	TEST_DEV_SECRET,
	TEST_REDIS_URL as REDIS_URL,
	TEST_NATS_URL as NATS_URL,
} from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { startRepl } from "../helpers/repl.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { activeVendor, LiveClient, waitForRoutes } from "../helpers/live.ts";
import { eventRecorder } from "../helpers/event-recorder.ts";
import { waitForMarketplaceRoutes } from "../helpers/rest.ts";
import { clerkUserEvent, newWhsec, post, svixHeaders } from "../helpers/webhooks.ts";

const LISBON = { lat: 38.7223, lng: -9.1393 };
const H3_RES = 8;
const CELL = latLngToCell(LISBON.lat, LISBON.lng, H3_RES);

/**
 * The REPL's operations against a real cluster over NATS: a core node (REST, discovery, geo on
 * Redis, webhooks), a store node (users, vendors), two live gateway nodes, real WebSocket clients.
 * The test's own broker joins like the REPL node does (no services but a recorder) and calls
 * scripts/repl/ops.ts; the numbers must be the ones the test generated. Then `npm run repl` itself is
 * driven through its standard input.
 */
describe("REPL operations on a live cluster", () => {
	const namespace = uniqueNamespace("ops");
	const webhookSecret = newWhsec();
	const home = mkdtempSync(join(tmpdir(), "venta-repl-home-"));
	const common = {
		NODE_ENV: "test",
		NATS_URL,
		NAMESPACE: namespace,
		AUTH_DEV_SECRET: TEST_DEV_SECRET,
		LOG_LEVEL: "warn",
		DATA_DIR: ":memory:",
		VENDOR_OFFLINE_AFTER_S: "300",
		H3_RES: String(H3_RES),
	};
	const ids = { core: `${namespace}-core`, store: `${namespace}-store`, liveA: `${namespace}-live-a`, liveB: `${namespace}-live-b` };
	const procs: Record<string, NodeProcess> = {};
	const clients: LiveClient[] = [];
	const recorder = eventRecorder(["marketplace.vendor_status_changed"], "ops-recorder");
	const operator = operatorCaller("tester");
	let broker: ServiceBroker;
	let baseUrl: string;
	let livePorts: { a: number; b: number };
	/** The store node's health server (a node without a gateway serves it on PORT). */
	let storePort: number;
	let owner: string;
	let vendorId: string;
	let vendor: LiveClient;
	/** Positions the vendor sent and the gateway accepted. */
	let sent = 0;
	let last = LISBON;

	const open = async (url: string) => {
		// A socket signed in at the upgrade may be dropped right after open (docs/live-protocol.md): reconnect as a client would.
		const client = url.includes("token=") ? await LiveClient.openAnswering(url) : await LiveClient.open(url);
		clients.push(client);
		return client;
	};
	const liveUrl = (port: number, query = "") => `ws://127.0.0.1:${port}/live${query}`;
	const startStore = () => {
		procs.store = spawnNode("server.ts", { ...common, NODE_ID: ids.store, SERVICES: "users,vendors", PORT: String(storePort) });
		return waitFor(() => broker.registry.hasService("vendors", ids.store) && broker.registry.hasService("users", ids.store), {
			timeout: 30_000,
			what: "the store node",
		});
	};

	beforeAll(async () => {
		const corePort = await freePort();
		storePort = await freePort();
		livePorts = { a: await freePort(), b: await freePort() };
		baseUrl = `http://127.0.0.1:${corePort}`;
		procs.core = spawnNode("server.ts", {
			...common,
			NODE_ID: ids.core,
			SERVICES: "api,discovery,geo,webhooks",
			REDIS_URL,
			PORT: String(corePort),
			LIVE_PORT: String(await freePort()),
			CLERK_WEBHOOK_SECRET: webhookSecret,
		});
		procs.liveA = spawnNode("server.ts", {
			...common,
			NODE_ID: ids.liveA,
			SERVICES: "live",
			PORT: String(await freePort()),
			LIVE_PORT: String(livePorts.a),
		});
		procs.liveB = spawnNode("server.ts", {
			...common,
			NODE_ID: ids.liveB,
			SERVICES: "live",
			PORT: String(await freePort()),
			LIVE_PORT: String(livePorts.b),
		});

		broker = new ServiceBroker(createBrokerOptions(loadConfig({ ...common, NODE_ID: `${namespace}-ops` })));
		broker.createService(recorder.schema);
		await broker.start();
		await startStore();
		try {
			await waitForHttp(`${baseUrl}/health/ready`, 30_000);
			for (const port of Object.values(livePorts)) await waitForHttp(`http://127.0.0.1:${port}/health/ready`, 30_000);
		} catch (err) {
			throw new Error(
				`${(err as Error).message}\n${Object.entries(procs)
					.map(([k, p]) => `--- ${k}\n${p.output().slice(-2000)}`)
					.join("\n")}`
			);
		}
		await broker.waitForServices(["api", "users", "vendors", "discovery", "geo", "webhooks", "live"], 30_000);
		await waitFor(() => liveNodes(broker).length === 2, { timeout: 20_000, what: "both live nodes" });
		await waitForRoutes(baseUrl);
		await waitForMarketplaceRoutes(baseUrl);

		owner = await mintDevToken(TEST_DEV_SECRET, `user_repl_owner_${randomUUID().slice(0, 8)}`);
		vendorId = await activeVendor(baseUrl, owner, "Bifana Bike");
	});

	afterAll(async () => {
		for (const c of clients) c.close();
		await broker?.stop();
		await Promise.all(Object.values(procs).map(p => p.kill()));
		rmSync(home, { recursive: true, force: true });
		await deleteRedisKeys(`${namespace}:*`);
	});

	/** Sends one position (spaced below POSITION_MAX_HZ) that every watcher will see. */
	const sendPosition = async (i: number) => {
		last = { lat: LISBON.lat + i * 0.00001, lng: LISBON.lng };
		vendor.send({ op: "pos", ...last });
		sent++;
		await new Promise(r => setTimeout(r, 300));
	};

	it("sockets: every live node reports its own sockets, watchers, vendors, cells and counters; rates follow what was sent", async () => {
		// Two watchers on A (one by radius, one by cell), one on B; the vendor's socket on A.
		const nearWatcher = await open(liveUrl(livePorts.a));
		const cellWatcherA = await open(liveUrl(livePorts.a));
		const cellWatcherB = await open(liveUrl(livePorts.b));
		const nearSnapshot = await nearWatcher.watch({ near: { ...LISBON, radius: 300 } });
		await cellWatcherA.watch({ cells: [CELL] });
		await cellWatcherB.watch({ cells: [CELL] });
		vendor = await open(liveUrl(livePorts.a, `?token=${owner}&vendor=${vendorId}`));
		const watchedByNear = (nearSnapshot.cells as string[]).length;
		expect(nearSnapshot.cells).toContain(CELL);

		await waitFor(async () => (await sampleLive(broker)).every(s => s.stats && s.stats.sockets === (s.node === ids.liveA ? 3 : 1)), {
			what: "socket counts",
		});
		const before = await sampleLive(broker);
		const k = 4;
		for (let i = 0; i < k; i++) await sendPosition(i);
		for (const w of [nearWatcher, cellWatcherA, cellWatcherB]) {
			await waitFor(() => w.frames.filter(f => f.op === "pos" && f.id === vendorId).length === k, {
				what: "every position at every watcher",
			});
		}
		vendor.send({ op: "pos", lat: 123, lng: 0 });
		await vendor.nextOp("error");
		const after = await sampleLive(broker);
		const rows = liveRates(before, after);

		expect(rows.map(r => r.node)).toEqual([ids.liveA, ids.liveB]);
		const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
		expect(a).toMatchObject({ sockets: 3, watchers: 2, vendors: 1, watchedCells: watchedByNear, positionsIn: k, dropped: 1 });
		expect(a.delta).toEqual({ positionsIn: k, deliveries: 2 * k, dropped: 1, routedIn: 0 });
		expect(b).toMatchObject({ sockets: 1, watchers: 1, vendors: 0, watchedCells: 1, positionsIn: 0, routedIn: k });
		expect(b.delta).toEqual({ positionsIn: 0, deliveries: k, dropped: 0, routedIn: k });
		expect(a.windowS).toBeGreaterThan(0);
		expect(a.inPerS).toBeCloseTo(k / a.windowS, 0);
		expect(a.deliveriesPerS).toBeCloseTo((2 * k) / a.windowS, 0);
		expect(b.routedInPerS).toBeCloseTo(k / b.windowS, 0);

		// Per-socket watch sets of one node.
		const socketsOnA = await socketList(broker, ids.liveA);
		expect(socketsOnA.map(s => [s.vendorId, s.cells]).sort()).toEqual(
			[
				[null, 1],
				[null, watchedByNear],
				[vendorId, 0],
			].sort()
		);
		expect((await socketList(broker, ids.liveB)).map(s => s.cells)).toEqual([1]);
		await expect(socketList(broker, ids.core)).rejects.toThrow(/not a live gateway node/);

		// The REPL's own sampling: nothing moves, so every rate is zero over its window.
		const quiet = await socketsReport(broker, { windowMs: 200 });
		expect(quiet.map(r => [r.node, r.sockets, r.inPerS, r.deliveriesPerS])).toEqual([
			[ids.liveA, 3, 0, 0],
			[ids.liveB, 1, 0, 0],
		]);
	});

	it("online: the vendor with its latest position and age, everywhere, by cell (any resolution) and by box", async () => {
		const everywhere = await onlineVendors(broker);
		expect(everywhere).toEqual([
			expect.objectContaining({ vendorId, name: "Bifana Bike", status: "active", lat: last.lat, lng: last.lng, cell: CELL }),
		]);
		expect(everywhere[0]!.ageS).toBeLessThan(60);

		expect((await onlineVendors(broker, { cell: CELL })).map(r => r.vendorId)).toEqual([vendorId]);
		expect((await onlineVendors(broker, { cell: cellToParent(CELL, 5) })).map(r => r.vendorId)).toEqual([vendorId]);
		expect(await onlineVendors(broker, { cell: latLngToCell(48.137, 11.575, H3_RES) })).toEqual([]);
		expect((await onlineVendors(broker, { bbox: [-9.2, 38.7, -9.1, 38.8] })).map(r => r.vendorId)).toEqual([vendorId]);
		expect(await onlineVendors(broker, { bbox: [11, 48, 12, 49] })).toEqual([]);
		await expect(onlineVendors(broker, { cell: "not-a-cell" })).rejects.toThrow(/not an H3 cell/);
	});

	it("near: what a customer at that point sees", async () => {
		const rows = await nearby(broker, { ...LISBON, radius: 500 });
		expect(rows).toEqual([expect.objectContaining({ vendorId, name: "Bifana Bike", online: true })]);
		expect(rows[0]!.distanceM).toBeLessThan(10);
		expect(await nearby(broker, { lat: 48.137, lng: 11.575, radius: 500 })).toEqual([]);
	});

	it("cells: the vendor's cell leads with one vendor and three watchers (counted by the live nodes)", async () => {
		const rows = await busiestCells(broker, { top: 3 });
		expect(rows[0]).toEqual({ cell: CELL, vendors: 1, watchers: 3 });
		expect(rows).toHaveLength(3);
		expect(rows.slice(1).every(r => r.vendors === 0 && r.watchers === 1)).toBe(true);
	});

	it("vendor: profile, status, subscription, live position, history and the node holding its socket", async () => {
		const report = await vendorReport(broker, vendorId);
		expect(report.vendor).toMatchObject({ id: vendorId, name: "Bifana Bike", status: "active", subscription: { active: false } });
		expect(report.owner).toMatchObject({ role: "vendor" });
		expect(report.location).toMatchObject({ vendorId, online: true, lat: last.lat, lng: last.lng, cell: CELL });
		expect(report.history).toHaveLength(sent);
		expect(report.history[0]).toMatchObject({ lat: last.lat, lng: last.lng });
		expect(report.socketNodes).toEqual([ids.liveA]);
		await expect(vendorReport(broker, "ven_missing")).rejects.toMatchObject({ code: 404, type: "NOT_FOUND" });
	});

	it("npm run repl: joins the cluster, lists the nodes and the vendor online, prints usage for bad input, exits 0", async () => {
		const repl = await startRepl(
			{ HOME: home, NATS_URL, NAMESPACE: namespace, AUTH_DEV_SECRET: TEST_DEV_SECRET, NODE_ENV: "test" },
			`venta(${namespace}) $`
		);
		const run = repl.send;
		try {
			expect(repl.output()).toMatch(/Venta REPL on node repl-[\w.-]+-\d+ as repl:/);

			const nodes = await run("nodes", text => Object.values(ids).every(id => text.includes(id)));
			expect(nodes).toMatch(/repl-[\w.-]+-\d+ \(\*\)/);

			const online = await run("online", text => text.includes("online\n"));
			expect(online).toContain(vendorId);
			expect(online).toContain("Bifana Bike");
			expect(online).toContain("1 online");

			const bad = await run("near abc 1", text => text.includes("Usage:"));
			expect(bad).toContain("Error: lat must be a number");
			expect(bad).not.toMatch(/\n\s+at /);

			const sockets = await run("sockets --window 0.2", text => text.includes(ids.liveB));
			expect(sockets).toContain(ids.liveA);

			expect(await repl.exit()).toBe(0);
		} finally {
			repl.kill();
		}
		// Leaving the cluster: the REPL node is gone from the registry.
		await waitFor(() => !broker.registry.getNodeList({ onlyAvailable: true, withServices: false }).some(n => n.id.startsWith("repl-")), {
			what: "the REPL node to leave",
		});
	});

	it("vendor suspend / resume: as the operator (admin), audited in the status event; the vendor's socket is closed", async () => {
		const suspended = await setVendorStatus(broker, operator, vendorId, "suspended");
		expect(suspended).toMatchObject({ vendorId, previous: "active", status: "suspended", by: "repl:tester" });
		expect(Date.parse(suspended.at)).toBeGreaterThan(Date.now() - 60_000);
		const event = await waitFor(() =>
			recorder
				.named<{ id: string; status: string }>("marketplace.vendor_status_changed")
				.find(e => e.data.id === vendorId && e.data.status === "suspended")
		);
		expect(event.data).toMatchObject({ id: vendorId, previous: "active", status: "suspended", canBroadcast: false, by: operator });
		expect(Date.parse(event.meta.timestamp)).toBeGreaterThan(Date.now() - 60_000);
		expect(await vendor.closed()).toBe(CLOSE_CODES.BROADCAST_REVOKED);
		await expect(LiveClient.open(liveUrl(livePorts.b, `?token=${owner}&vendor=${vendorId}`))).rejects.toMatchObject({ status: 403 });

		const resumed = await setVendorStatus(broker, operator, vendorId, "active");
		expect(resumed).toMatchObject({ previous: "suspended", status: "active", by: "repl:tester" });
		await waitFor(() =>
			recorder
				.named<{ id: string; status: string }>("marketplace.vendor_status_changed")
				.some(e => e.data.id === vendorId && e.data.status === "active")
		);
		// Only an admin may suspend: the operator's identity is what makes it work.
		await expect(setVendorStatus(broker, { id: "user_someone", role: "customer" }, vendorId, "suspended")).rejects.toMatchObject({
			code: 403,
		});
		await expect(setVendorStatus(broker, operator, "ven_missing", "suspended")).rejects.toMatchObject({ code: 404 });
	});

	it("role: sets a user's role as the operator; the same call without the operator's identity is refused", async () => {
		const userId = `user_role_${randomUUID().slice(0, 8)}`;
		await fetch(`${baseUrl}/api/me`, { headers: { Authorization: `Bearer ${await mintDevToken(TEST_DEV_SECRET, userId)}` } });
		expect(await setUserRole(broker, operator, userId, "admin")).toMatchObject({ id: userId, role: "admin" });
		await expect(broker.call("users.setRole", { id: userId, role: "customer" })).rejects.toMatchObject({ code: 401 });
		await expect(setUserRole(broker, { id: "user_someone", role: "vendor" }, userId, "customer")).rejects.toMatchObject({ code: 403 });
	});

	it("kick: closes the vendor's socket with KICKED on whichever node holds it", async () => {
		vendor = await open(liveUrl(livePorts.b, `?token=${owner}&vendor=${vendorId}`));
		await waitFor(async () => (await vendorReport(broker, vendorId)).socketNodes.length === 1, { what: "the socket on B" });
		const result = await kickVendor(broker, operator, vendorId);
		expect(result).toEqual({ vendorId, nodes: [ids.liveB], closed: true });
		expect(await vendor.closed()).toBe(CLOSE_CODES.KICKED);
		expect(await kickVendor(broker, operator, vendorId)).toEqual({ vendorId, nodes: [], closed: false });
	});

	it("inbox: lists recorded webhook events, filters failed ones and by source, replays a failed one", async () => {
		const url = `${baseUrl}/webhooks/clerk`;
		const userId = `user_inbox_${randomUUID().slice(0, 8)}`;
		const created = clerkUserEvent("user.created", { id: userId, email: "a@example.com" });
		expect((await post(url, created, svixHeaders(created, { secret: webhookSecret }))).status).toBe(200);
		const listed = await inboxList(broker, operator);
		expect(listed[0]).toMatchObject({ source: "clerk", type: "user.created", status: "applied", attempts: 1, error: null });
		expect(await inboxList(broker, operator, { source: "revenuecat" })).toEqual([]);
		expect(await inboxList(broker, operator, { failed: true })).toEqual([]);

		// The store node goes away: applying fails for real and the event is recorded as failed.
		await procs.store!.kill();
		await waitFor(() => !broker.registry.hasService("users", ids.store), { timeout: 20_000, what: "users to leave" });
		const updated = clerkUserEvent("user.updated", { id: userId, email: "b@example.com" });
		expect((await post(url, updated, svixHeaders(updated, { secret: webhookSecret }))).status).toBe(503);
		const failed = await inboxList(broker, operator, { failed: true });
		expect(failed).toEqual([expect.objectContaining({ type: "user.updated", status: "failed", attempts: 1 })]);
		expect(failed[0]!.error).toMatch(/users\.upsertFromClerk/);

		await startStore();
		const replayed = await inboxReplay(broker, operator, failed[0]!.id);
		expect(replayed).toMatchObject({ id: failed[0]!.id, status: "applied", attempts: 2, error: null });
		expect(await inboxList(broker, operator, { failed: true })).toEqual([]);
		expect(await broker.call("users.get", { id: userId })).toMatchObject({ email: "b@example.com" });
		await expect(inboxReplay(broker, operator, "clerk:msg_unknown")).rejects.toMatchObject({ code: 404 });
	});
});
