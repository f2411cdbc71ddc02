import { latLngToCell } from "h3-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient, waitForRoutes } from "../../helpers/live.ts";
import { freePort } from "../../helpers/ports.ts";
import { traceTree, ZipkinReceiver, type ZipkinSpan } from "../../helpers/zipkin.ts";

const BERLIN = { lat: 52.52, lng: 13.405 };
const CELL = latLngToCell(BERLIN.lat, BERLIN.lng, 8);

/** What the docs list for the live path: a vendor's upgrade and token refresh, a watch and its snapshot, a position written. */
async function driveLivePath(engine: TestEngine): Promise<{ clients: LiveClient[] }> {
	const owner = await engine.token("user_trace_owner");
	const vendorId = await activeVendor(engine.baseUrl, owner);
	const watcher = await LiveClient.open(engine.liveUrl);
	await watcher.watch({ cells: [CELL] });
	const vendor = await LiveClient.openAnswering(`${engine.liveUrl}?token=${owner}&vendor=${vendorId}`);
	vendor.send({ op: "auth", token: owner });
	await vendor.nextOp("authed");
	vendor.send({ op: "pos", ...BERLIN, ts: Date.now() });
	await watcher.nextOp("pos");
	return { clients: [watcher, vendor] };
}

/** The one span named `name`, and the spans of its trace. */
function traceOf(spans: ZipkinSpan[], name: string): { root: ZipkinSpan; trace: ZipkinSpan[] } {
	const roots = spans.filter(s => s.name === name);
	expect(roots, `one "${name}" span`).toHaveLength(1);
	const root = roots[0]!;
	return { root, trace: spans.filter(s => s.traceId === root.traceId) };
}

describe("TRACING=off (the default)", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine();
		await waitForRoutes(engine.baseUrl);
	});
	afterAll(() => engine?.stop());

	it("starts no span on REST calls or the live path", async () => {
		const startSpan = vi.spyOn(engine.broker.tracer, "startSpan");
		const { clients } = await driveLivePath(engine);
		expect((await fetch(`${engine.baseUrl}/api/vendors?pageSize=1`)).status).toBe(200);
		for (const c of clients) c.close();
		expect(engine.broker.isTracingEnabled()).toBe(false);
		expect(startSpan).not.toHaveBeenCalled();
	});
});

describe("TRACING=zipkin on the live path", () => {
	let engine: TestEngine;
	let receiver: ZipkinReceiver;
	let clients: LiveClient[] = [];

	beforeAll(async () => {
		receiver = await ZipkinReceiver.start(await freePort());
		engine = await startTestEngine({ TRACING: "zipkin", TRACING_ENDPOINT: receiver.url });
		await waitForRoutes(engine.baseUrl);
		clients = (await driveLivePath(engine)).clients;
		// The exporter posts every ZIPKIN_INTERVAL_S: wait for the write's span to arrive.
		await waitFor(() => receiver.spans.some(s => s.name === "action 'geo.updateMany'"), { timeout: 15_000, what: "the write's spans" });
	});
	afterAll(async () => {
		for (const c of clients) c.close();
		await engine?.stop();
		await receiver?.close();
	});

	const childrenOf = (trace: ZipkinSpan[], parent: ZipkinSpan) =>
		trace
			.filter(s => s.parentId === parent.id)
			.map(s => s.name)
			.sort();

	it("traces a vendor's upgrade with the user and broadcast checks as its children", () => {
		const upgrades = receiver.spans.filter(s => s.name === "live upgrade");
		// The anonymous watcher's upgrade checks nothing; the vendor's calls users and vendors.
		expect(upgrades.map(s => s.tags.token).sort()).toEqual(["false", "true"]);
		const vendorUpgrade = upgrades.find(s => s.tags.token === "true")!;
		const trace = receiver.trace(vendorUpgrade.traceId);
		expect(vendorUpgrade.parentId).toBeNull();
		expect(vendorUpgrade.tags).toMatchObject({ vendor: "true", nodeID: engine.broker.nodeID });
		expect(childrenOf(trace, vendorUpgrade)).toEqual(["action 'users.resolve'", "action 'vendors.authorizeBroadcast'"]);
	});

	it("traces a token refresh over the open socket like the upgrade", () => {
		const { root, trace } = traceOf(receiver.spans, "live auth");
		expect(root.tags.connId).toMatch(/^\d+$/);
		expect(childrenOf(trace, root)).toEqual(["action 'users.resolve'", "action 'vendors.authorizeBroadcast'"]);
	});

	it("traces a watch with its snapshot read from geo", () => {
		const { root, trace } = traceOf(receiver.spans, "live watch");
		expect(root.tags).toMatchObject({ cells: "1", service: "live" });
		expect(childrenOf(trace, root)).toEqual(["action 'geo.inCells'"]);
	});

	it("traces the position write: one span per batch, geo.updateMany its child", () => {
		const { root, trace } = traceOf(receiver.spans, "live positions write");
		expect(root.tags.positions).toBe("1");
		expect(childrenOf(trace, root)).toEqual(["action 'geo.updateMany'"]);
		console.log(
			`live path traces (from the test's Zipkin receiver):\n${["live upgrade", "live auth", "live watch", "live positions write"]
				.flatMap(name => receiver.spans.filter(s => s.name === name && s.tags.token !== "false"))
				.map(s => traceTree(receiver.trace(s.traceId)))
				.join("\n")}`
		);
	});

	it("sends only valid Zipkin ids, and no params", () => {
		expect(receiver.rejected).toBe(0);
		for (const s of receiver.spans) {
			expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
			expect(s.id).toMatch(/^[0-9a-f]{16}$/);
			expect(Object.keys(s.tags).filter(k => k.startsWith("params."))).toEqual([]);
		}
	});
});
