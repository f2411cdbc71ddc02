import { afterEach, describe, expect, it } from "vitest";
import { deleteRedisKeys, testEnv, uniqueNamespace, TEST_NATS_URL as NATS_URL, TEST_REDIS_URL as REDIS_URL } from "../helpers/engine.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";

type Started = { proc: NodeProcess; ready: string; nodeId: string };

/**
 * Two processes of one namespace over real NATS, each with its own embedded store: the second
 * replica of a stateful service refuses to start, in one line; shared stores, gateways and a
 * restart of the same node are let through.
 */
describe("no silent split brain on the embedded store", () => {
	const running: NodeProcess[] = [];
	afterEach(async () => {
		await Promise.all(running.splice(0).map(p => p.kill("SIGKILL")));
	});

	const start = async (namespace: string, name: string, env: Record<string, string>): Promise<Started> => {
		const full = await testEnv({ NATS_URL, NAMESPACE: namespace, NODE_ID: `${namespace}-${name}`, LOG_LEVEL: "info", ...env });
		const proc = spawnNode("server.ts", full);
		running.push(proc);
		const http = full.SERVICES!.includes("live") ? full.LIVE_PORT : full.PORT;
		return { proc, ready: `http://127.0.0.1:${http}/health/ready`, nodeId: full.NODE_ID! };
	};
	const ready = (n: Started) =>
		waitForHttp(n.ready, 30_000).catch(err => {
			throw new Error(`${n.nodeId} not ready: ${err.message}\n${n.proc.output().slice(-3_000)}`);
		});
	const refusalLines = (out: string) => out.split("\n").filter(line => line.includes("runs on the embedded store"));
	/** The node is still up after a few heartbeats (2 s each) in the same mesh. */
	const staysUp = async (n: Started) => {
		await new Promise(r => setTimeout(r, 5_000));
		expect(n.proc.child.exitCode).toBeNull();
		await waitForHttp(n.ready, 10_000);
	};

	it("a second vendors on NeDB exits non-zero with one line naming the first node and MONGO_URL", async () => {
		const namespace = uniqueNamespace("guard");
		const first = await start(namespace, "a", { SERVICES: "vendors" });
		await ready(first);
		const second = await start(namespace, "b", { SERVICES: "users,vendors" });
		expect(await second.proc.exited).toBe(1);
		const lines = refusalLines(second.proc.output());
		expect(lines).toHaveLength(1);
		expect(lines[0]).toContain(
			`vendors runs on the embedded store here and already runs on node ${first.nodeId}; set MONGO_URL to run more than one replica`
		);
		await staysUp(first);
		expect(refusalLines(first.proc.output())).toEqual([]);
	}, 60_000);

	it("a second geo on the in-process store exits the same way, naming REDIS_URL", async () => {
		const namespace = uniqueNamespace("guard");
		const first = await start(namespace, "a", { SERVICES: "geo" });
		await ready(first);
		const second = await start(namespace, "b", { SERVICES: "geo" });
		expect(await second.proc.exited).toBe(1);
		expect(refusalLines(second.proc.output())).toEqual([
			expect.stringContaining(`geo runs on the embedded store here and already runs on node ${first.nodeId}; set REDIS_URL`),
		]);
		await staysUp(first);
	}, 60_000);

	it("two started at the same moment: exactly one stays", async () => {
		const namespace = uniqueNamespace("guard");
		const both = await Promise.all([start(namespace, "a", { SERVICES: "vendors" }), start(namespace, "b", { SERVICES: "vendors" })]);
		const exited = await Promise.race([...both.map(n => n.proc.exited.then(code => ({ n, code })))]);
		expect(exited.code).toBe(1);
		expect(refusalLines(exited.n.proc.output())).toHaveLength(1);
		const survivor = both.find(n => n !== exited.n)!;
		await staysUp(survivor);
		expect(refusalLines(survivor.proc.output())).toEqual([]);
	}, 60_000);

	it("lets through geo replicas on Redis, gateways-only nodes, and a restart of the same node", async () => {
		const namespace = uniqueNamespace("guard");
		const nodes = await Promise.all([
			start(namespace, "geo1", { SERVICES: "geo", REDIS_URL }),
			start(namespace, "geo2", { SERVICES: "geo", REDIS_URL }),
			start(namespace, "gw1", { SERVICES: "api,live" }),
			start(namespace, "gw2", { SERVICES: "api,live" }),
			start(namespace, "vendors", { SERVICES: "vendors" }),
		]);
		for (const n of nodes) await ready(n);
		await staysUp(nodes[0]!);
		for (const n of nodes) expect(n.proc.child.exitCode).toBeNull();

		// kill -9 and start again under the same node id, before the mesh has noticed it gone.
		const vendors = nodes[4]!;
		await vendors.proc.kill("SIGKILL");
		const again = await start(namespace, "vendors", { SERVICES: "vendors" });
		await ready(again);
		await staysUp(again);
		for (const n of [...nodes.slice(0, 4), again]) expect(refusalLines(n.proc.output())).toEqual([]);
		await deleteRedisKeys(`${namespace}:geo:*`, `${namespace}-cache*`);
	}, 90_000);
});
