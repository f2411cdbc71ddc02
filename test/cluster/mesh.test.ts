import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../config/index.ts";
import { createBrokerOptions } from "../../moleculer.config.ts";
import { testEnv, uniqueNamespace, waitFor, TEST_NATS_URL as NATS_URL } from "../helpers/engine.ts";
import { spawnNode, type NodeProcess } from "../helpers/process.ts";

/** Each test gets its own namespace: a mesh of its own on the shared NATS server. */
async function meshEnv(namespace: string, nodeId: string, extra: Record<string, string> = {}) {
	return testEnv({ NATS_URL, NAMESPACE: namespace, NODE_ID: nodeId, LOG_LEVEL: "warn", ...extra });
}

async function startEchoNode(namespace: string, nodeId: string, extra: Record<string, string> = {}): Promise<NodeProcess> {
	const node = spawnNode("test/fixtures/echo-node.ts", await meshEnv(namespace, nodeId, extra));
	await waitFor(() => node.output().includes("ECHO_NODE_READY"), { timeout: 20_000, what: `${nodeId} to start` });
	return node;
}

async function startCaller(namespace: string): Promise<ServiceBroker> {
	const broker = new ServiceBroker(createBrokerOptions(loadConfig(await meshEnv(namespace, `caller-${namespace}`))));
	await broker.start();
	return broker;
}

async function countAnswers(broker: ServiceBroker, action: string, calls: number, opts = {}) {
	const byNode: Record<string, number> = {};
	let failures = 0;
	for (let i = 0; i < calls; i++) {
		try {
			const nodeId = (await broker.call(action, {}, opts)) as string;
			byNode[nodeId] = (byNode[nodeId] ?? 0) + 1;
		} catch {
			failures++;
		}
	}
	return { byNode, failures };
}

describe("service mesh over a real NATS server", () => {
	let nodes: NodeProcess[] = [];
	let caller: ServiceBroker | undefined;

	afterEach(async () => {
		await caller?.stop();
		caller = undefined;
		await Promise.all(nodes.map(n => n.kill("SIGKILL")));
		nodes = [];
	});

	it("discovers a service on another node and calls it", async () => {
		const ns = uniqueNamespace("mesh");
		nodes.push(await startEchoNode(ns, "echo-1"));
		caller = await startCaller(ns);
		await caller.waitForServices("echo", 10_000);
		expect(await caller.call("echo.whoami")).toBe("echo-1");
	});

	it("balances calls across two replicas and survives one being killed", async () => {
		const ns = uniqueNamespace("mesh");
		nodes.push(await startEchoNode(ns, "echo-a"), await startEchoNode(ns, "echo-b"));
		caller = await startCaller(ns);
		const broker = caller;
		await waitFor(() => broker.registry.getServiceList({ onlyAvailable: true }).filter(s => s.name === "echo").length === 2, {
			what: "two echo replicas",
		});

		const balanced = await countAnswers(broker, "echo.whoami", 40);
		expect(balanced.failures).toBe(0);
		expect(balanced.byNode["echo-a"]).toBe(20);
		expect(balanced.byNode["echo-b"]).toBe(20);

		// No goodbye from a killed process: timeouts are retried on the survivor.
		await nodes[1]!.kill("SIGKILL");
		const afterKill = await countAnswers(broker, "echo.whoami", 20, { timeout: 1_000, retries: 5 });
		expect(afterKill.failures).toBe(0);
		expect(afterKill.byNode).toEqual({ "echo-a": 20 });
	});

	it("trips the circuit breaker on a failing replica and moves traffic away", async () => {
		const ns = uniqueNamespace("mesh");
		nodes.push(await startEchoNode(ns, "echo-good"), await startEchoNode(ns, "echo-bad", { ECHO_FAIL: "1" }));
		caller = await startCaller(ns);
		const broker = caller;
		await waitFor(() => broker.registry.getServiceList({ onlyAvailable: true }).filter(s => s.name === "echo").length === 2, {
			what: "two echo replicas",
		});

		const warmup = await countAnswers(broker, "echo.flaky", 30);
		expect(warmup.failures).toBeGreaterThan(0);
		expect(warmup.failures).toBeLessThan(30);

		const after = await countAnswers(broker, "echo.flaky", 30);
		expect(after.failures).toBe(0);
		expect(after.byNode).toEqual({ "echo-good": 30 });
	});
});

describe("three brokers in separate processes", () => {
	const nodes: NodeProcess[] = [];
	let caller: ServiceBroker;
	const ns = uniqueNamespace("mesh3");

	beforeAll(async () => {
		nodes.push(...(await Promise.all([startEchoNode(ns, "n1"), startEchoNode(ns, "n2"), startEchoNode(ns, "n3")])));
		caller = await startCaller(ns);
	});
	afterAll(async () => {
		await caller?.stop();
		await Promise.all(nodes.map(n => n.kill("SIGKILL")));
	});

	it("sees every node and spreads calls over all three", async () => {
		await waitFor(() => caller.registry.getServiceList({ onlyAvailable: true }).filter(s => s.name === "echo").length === 3, {
			what: "three echo replicas",
		});
		const { byNode, failures } = await countAnswers(caller, "echo.whoami", 30);
		expect(failures).toBe(0);
		expect(byNode).toEqual({ n1: 10, n2: 10, n3: 10 });
	});
});
