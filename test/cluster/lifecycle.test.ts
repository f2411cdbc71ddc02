import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../config/index.ts";
import { createBrokerOptions } from "../../moleculer.config.ts";
import { testEnv, uniqueNamespace, waitFor, TEST_NATS_URL as NATS_URL } from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { ROOT, spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";

describe("start-up", () => {
	it.each([
		[{ PORT: "abc" }, /PORT must be an integer from 1 to 65535, got "abc"/],
		[{ H3_RES: "16" }, /H3_RES must be an integer from 0 to 15/],
		[{ NATS_URL: "localhost:4222" }, /NATS_URL must be a URL starting with nats:\/\//],
		[{ SERVICES: "api,nope" }, /SERVICES unknown name\(s\) nope/],
		[{ NODE_ENV: "production", AUTH_DEV_SECRET: "x".repeat(40) }, /AUTH_DEV_SECRET is refused when NODE_ENV=production/],
		[{ NODE_ENV: "production" }, /CLERK_JWT_KEY is required when NODE_ENV=production/],
	])("refuses %o with one line naming the variable", async (bad, message) => {
		const env = await testEnv({ AUTH_DEV_SECRET: undefined, ...bad });
		const node = spawnNode("server.ts", env);
		expect(await node.exited).toBe(1);
		const lines = node.output().trim().split("\n");
		expect(lines).toHaveLength(1);
		expect(lines[0]).toMatch(message);
	});

	it("`npm start` reaches ready on the embedded defaults, with no NATS, Redis or Mongo", async () => {
		const dataDir = mkdtempSync(join(tmpdir(), "venta-start-"));
		const port = await freePort();
		const livePort = await freePort();
		const child = spawn("npm", ["start", "--silent"], {
			cwd: ROOT,
			env: {
				PATH: process.env.PATH,
				HOME: process.env.HOME,
				PORT: String(port),
				LIVE_PORT: String(livePort),
				DATA_DIR: dataDir,
				LOG_LEVEL: "warn",
			},
			stdio: "ignore",
			// Its own process group, signalled whole, as a terminal's Ctrl-C or a supervisor does.
			detached: true,
		});
		const exited = new Promise<string>(resolve => child.on("exit", (code, signal) => resolve(String(code ?? signal))));
		try {
			const ready = await waitForHttp(`http://127.0.0.1:${port}/health/ready`, 30_000);
			expect(((await ready.json()) as { ready: boolean }).ready).toBe(true);
		} finally {
			process.kill(-child.pid!, "SIGTERM");
		}
		expect(["0", "SIGTERM"]).toContain(await exited);
		await waitFor(
			() =>
				fetch(`http://127.0.0.1:${port}/health/live`).then(
					() => false,
					() => true
				),
			{ what: "the engine to stop listening" }
		);
	});
});

describe("graceful shutdown", () => {
	const started: NodeProcess[] = [];
	afterEach(async () => {
		await Promise.all(started.splice(0).map(n => n.kill("SIGKILL")));
	});

	it("SIGTERM lets in-flight REST requests complete, refuses new ones, and exits 0", async () => {
		const namespace = uniqueNamespace("drain");
		const echo = spawnNode("test/fixtures/echo-node.ts", await testEnv({ NATS_URL, NAMESPACE: namespace, NODE_ID: "echo" }));
		started.push(echo);
		const gatewayEnv = await testEnv({ NATS_URL, NAMESPACE: namespace, NODE_ID: "gateway", SERVICES: "api" });
		const gateway = spawnNode("server.ts", gatewayEnv);
		started.push(gateway);
		const url = `http://127.0.0.1:${gatewayEnv.PORT}`;
		await waitFor(async () => (await fetch(`${url}/api/echo/slow?ms=0`)).status === 200, {
			timeout: 20_000,
			what: "the gateway to route to echo",
		});

		const inFlight = Array.from({ length: 5 }, () =>
			fetch(`${url}/api/echo/slow?ms=2000`).then(async r => ({ status: r.status, body: await r.json() }))
		);
		await new Promise(r => setTimeout(r, 300));
		const signalledAt = Date.now();
		gateway.child.kill("SIGTERM");
		await new Promise(r => setTimeout(r, 200));
		await expect(fetch(`${url}/health/live`)).rejects.toThrow();

		const answers = await Promise.all(inFlight);
		expect(answers.map(a => a.status)).toEqual([200, 200, 200, 200, 200]);
		expect(answers[0]!.body).toMatchObject({ nodeID: "echo", sleptMs: 2000 });
		expect(await gateway.exited).toBe(0);
		expect(Date.now() - signalledAt).toBeLessThan(10_000);
	});

	it("SIGTERM on a service node finishes the calls it is serving before it leaves", async () => {
		const namespace = uniqueNamespace("drain");
		const env = await testEnv({ NATS_URL, NAMESPACE: namespace, NODE_ID: "echo" });
		const echo = spawnNode("test/fixtures/echo-node.ts", env);
		started.push(echo);
		const caller = new ServiceBroker(createBrokerOptions(loadConfig(await testEnv({ NATS_URL, NAMESPACE: namespace, NODE_ID: "caller" }))));
		await caller.start();
		try {
			await caller.waitForServices("echo", 20_000);
			const call = caller.call("echo.slow", { ms: 1500 }, { retries: 0 });
			await new Promise(r => setTimeout(r, 300));
			echo.child.kill("SIGTERM");
			await expect(call).resolves.toMatchObject({ nodeID: "echo", sleptMs: 1500 });
			expect(await echo.exited).toBe(0);
		} finally {
			await caller.stop();
		}
	});
});
