import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintDevToken } from "../../lib/auth.ts";
import { zipkinTraceId } from "../../runtime/tracing.ts";
import { TEST_DEV_SECRET, TEST_NATS_URL as NATS_URL, testEnv, uniqueNamespace, waitFor } from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { traceTree, ZipkinReceiver, type ZipkinSpan } from "../helpers/zipkin.ts";

/** A trace is whole when it has its root and every other span's parent is in it. */
const whole = (trace: ZipkinSpan[]) => {
	const ids = new Set(trace.map(s => s.id));
	return trace.filter(s => s.parentId === null).length === 1 && trace.every(s => s.parentId === null || ids.has(s.parentId));
};

/**
 * Two engine processes over real NATS, tracing to a Zipkin-shaped receiver this test runs: the
 * REST gateway alone on one node, the services that answer on the other.
 */
describe("one REST request across two nodes is one trace", () => {
	const namespace = uniqueNamespace("trace");
	const gatewayId = `${namespace}-gateway`;
	const servicesId = `${namespace}-services`;
	const procs: NodeProcess[] = [];
	let receiver: ZipkinReceiver;
	let baseUrl: string;

	beforeAll(async () => {
		receiver = await ZipkinReceiver.start(await freePort());
		const start = async (nodeId: string, services: string, logLevel: string) => {
			const env = await testEnv({
				NATS_URL,
				NAMESPACE: namespace,
				NODE_ID: nodeId,
				SERVICES: services,
				LOG_LEVEL: logLevel,
				TRACING: "zipkin",
				TRACING_ENDPOINT: receiver.url,
			});
			procs.push(spawnNode("server.ts", env));
			return env;
		};
		// The gateway logs at info: its one line per response is what the trace is found from.
		const gateway = await start(gatewayId, "api", "info");
		await start(servicesId, "users,vendors,discovery,geo", "warn");
		baseUrl = `http://127.0.0.1:${gateway.PORT}`;
		await waitForHttp(`${baseUrl}/health/live`, 30_000).catch(err => {
			throw new Error(`the gateway did not start: ${err.message}\n${procs.map(p => p.output()).join("\n")}`);
		});
		await waitFor(async () => (await fetch(`${baseUrl}/api/vendors?pageSize=1`)).status === 200, {
			timeout: 30_000,
			what: "the gateway's routes to the other node",
		});
	});

	afterAll(async () => {
		await Promise.all(procs.map(p => p.kill()));
		await receiver?.close();
	});

	it("joins the gateway's root span and the other node's action spans under the request id", async () => {
		const token = await mintDevToken(TEST_DEV_SECRET, "user_trace_cluster");
		const res = await fetch(`${baseUrl}/api/vendors`, {
			method: "POST",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
			body: JSON.stringify({ name: "Traced Tacos", categories: ["food"] }),
		});
		expect(res.status).toBe(201);
		const requestId = res.headers.get("x-request-id")!;
		expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

		const traceId = requestId.replaceAll("-", "");
		// Each node posts its spans every ZIPKIN_INTERVAL_S: wait until both nodes' have come.
		const expected = ["POST /api/vendors", "action 'users.becomeVendor'", "action 'users.resolve'", "action 'vendors.create'"];
		const trace = await waitFor(
			() => {
				const spans = receiver.trace(traceId);
				return spans.length === expected.length ? spans : undefined;
			},
			{ timeout: 20_000, interval: 200, what: "the four spans of the request" }
		);
		expect(trace.map(s => s.name).sort()).toEqual(expected);
		expect(whole(trace)).toBe(true);

		const root = trace.find(s => s.parentId === null)!;
		expect(root.name).toBe("POST /api/vendors");
		expect(root.localEndpoint.serviceName).toBe("api");
		expect(root.tags).toMatchObject({ nodeID: gatewayId, requestID: requestId, "http.method": "POST", "http.path": "/api/vendors" });
		expect(new Set(trace.map(s => s.tags.nodeID))).toEqual(new Set([gatewayId, servicesId]));
		for (const span of trace) expect(span.tags.requestID, span.name).toBe(requestId);

		const byName = new Map(trace.map(s => [s.name, s]));
		const resolve = byName.get("action 'users.resolve'")!;
		const create = byName.get("action 'vendors.create'")!;
		const becomeVendor = byName.get("action 'users.becomeVendor'")!;
		// The gateway's calls crossed NATS; the services' own call stayed on their node.
		expect([resolve.parentId, create.parentId]).toEqual([root.id, root.id]);
		expect([resolve.tags, create.tags]).toMatchObject([
			{ nodeID: servicesId, callerNodeID: gatewayId, remoteCall: "true" },
			{ nodeID: servicesId, callerNodeID: gatewayId, remoteCall: "true" },
		]);
		expect(becomeVendor.parentId).toBe(create.id);
		expect(becomeVendor.tags).toMatchObject({ nodeID: servicesId, remoteCall: "false" });

		// The gateway's log line of the response carries the same id.
		const gatewayLog = procs[0]!
			.output()
			.split("\n")
			.filter(l => l.includes(`"requestId":"${requestId}"`));
		expect(gatewayLog.map(l => JSON.parse(l) as { msg: string; url: string; status: number })).toEqual([
			expect.objectContaining({ msg: "request", url: "/api/vendors", status: 201 }),
		]);
		console.log(`the gateway's log line:\n${gatewayLog[0]}\ntrace ${traceId}, from the test's Zipkin receiver:\n${traceTree(trace)}`);
	});

	it("keeps a caller's X-Request-ID as the trace id on both nodes", async () => {
		const callerId = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736";
		const res = await fetch(`${baseUrl}/api/vendors?pageSize=1`, { headers: { "X-Request-ID": callerId } });
		expect(res.status).toBe(200);
		expect(res.headers.get("x-request-id")).toBe(callerId);
		const bothNodes = (spans: ZipkinSpan[]) => new Set(spans.map(s => s.tags.nodeID)).size === 2;
		const trace = await waitFor(
			() => {
				const spans = receiver.trace(zipkinTraceId(callerId));
				return whole(spans) && bothNodes(spans) ? spans : undefined;
			},
			{ timeout: 20_000, interval: 200, what: "the trace of the caller's request id from both nodes" }
		);
		expect(new Set(trace.map(s => s.tags.nodeID))).toEqual(new Set([gatewayId, servicesId]));
		expect(receiver.rejected).toBe(0);
	});
});
