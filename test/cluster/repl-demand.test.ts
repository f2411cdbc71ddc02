import { gridDisk, latLngToCell } from "h3-js";
import { ServiceBroker } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/index.ts";
import { operatorCaller } from "../../lib/identity.ts";
import { createBrokerOptions } from "../../moleculer.config.ts";
import { Output, runCommand } from "../../scripts/repl/cli.ts";
import { REPL_COMMANDS } from "../../scripts/repl/commands.ts";
import { liveNodes } from "../../scripts/repl/ops/live.ts";
import { TEST_DEV_SECRET, TEST_NATS_URL, uniqueNamespace, waitFor } from "../helpers/engine.ts";
import { LiveClient } from "../helpers/live.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";

const RES = 8;
const CELL = latLngToCell(41.3874, 2.1686, RES);
const NEXT = gridDisk(CELL, 1).find(c => c !== CELL)!;
const BOX = "2.1,41.35,2.25,41.43";
const spec = REPL_COMMANDS.find(c => c.command === "demand")!;

/** Cell → count from the command's tab-separated table. */
const rowsOf = (text: string): Record<string, number> =>
	Object.fromEntries(
		text
			.split("\n")
			.slice(1)
			.map(l => l.split("\t"))
			.filter(cols => cols.length === 2)
			.map(([cell, n]) => [cell, Number(n)])
	);

/** `demand` from a node of its own (as `npm run repl` joins): a geo node and two live-only nodes over NATS. */
describe("REPL demand across live nodes", () => {
	const namespace = uniqueNamespace("demand-repl");
	const common = {
		NODE_ENV: "test",
		NATS_URL: TEST_NATS_URL,
		NAMESPACE: namespace,
		AUTH_DEV_SECRET: TEST_DEV_SECRET,
		LOG_LEVEL: "warn",
		DATA_DIR: ":memory:",
		H3_RES: String(RES),
	};
	const procs: NodeProcess[] = [];
	const sockets: LiveClient[] = [];
	const livePorts: number[] = [];
	let broker: ServiceBroker;

	async function run(options: Record<string, string> = {}) {
		const lines: string[] = [];
		const ok = await runCommand(
			spec,
			broker,
			{ args: [], options, operator: operatorCaller("tester") },
			new Output(null, t => lines.push(t))
		);
		return { ok, text: lines.join("\n") };
	}
	async function watcher(port: number, cells: string[]) {
		const client = await LiveClient.open(`ws://127.0.0.1:${port}/live`);
		sockets.push(client);
		await client.watch({ cells });
	}

	beforeAll(async () => {
		procs.push(spawnNode("server.ts", { ...common, NODE_ID: `${namespace}-geo`, SERVICES: "geo", PORT: String(await freePort()) }));
		for (const name of ["a", "b"]) {
			const port = await freePort();
			livePorts.push(port);
			procs.push(
				spawnNode("server.ts", {
					...common,
					NODE_ID: `${namespace}-live-${name}`,
					SERVICES: "live",
					PORT: String(await freePort()),
					LIVE_PORT: String(port),
				})
			);
		}
		broker = new ServiceBroker(createBrokerOptions(loadConfig({ ...common, NODE_ID: `${namespace}-repl` })));
		await broker.start();
		try {
			for (const port of livePorts) await waitForHttp(`http://127.0.0.1:${port}/health/ready`, 30_000);
			await broker.waitForServices(["geo", "live"], 30_000);
			await waitFor(() => liveNodes(broker).length === 2, { timeout: 20_000, what: "both live nodes" });
		} catch (err) {
			throw new Error(`${(err as Error).message}\n${procs.map(p => p.output().slice(-2000)).join("\n---\n")}`);
		}
	});
	afterAll(async () => {
		for (const c of sockets) c.close();
		await broker?.stop();
		await Promise.all(procs.map(p => p.kill()));
	});

	it("sums every live node's counts without a box, and asks the cluster's counts with one", async () => {
		const [a, b] = livePorts as [number, number];
		await watcher(a, [CELL]);
		await watcher(a, [CELL, NEXT]);
		await watcher(b, [CELL]);
		const summed = await waitFor(async () => {
			const out = await run();
			return rowsOf(out.text)[CELL] === 3 ? out : null;
		});
		expect(rowsOf(summed.text)).toEqual({ [CELL]: 3, [NEXT]: 1 });
		expect(summed.text).toContain("counts of 2 live node(s)");
		// One live node answers for the box with every node's counts (within a couple of seconds).
		const boxed = await waitFor(
			async () => {
				const out = await run({ bbox: BOX });
				return rowsOf(out.text)[CELL] === 3 ? out : null;
			},
			{ timeout: 15_000, what: "the cluster's counts in the box" }
		);
		expect(rowsOf(boxed.text)).toEqual({ [CELL]: 3, [NEXT]: 1 });
		expect(boxed.text).toContain("counts of 2 live node(s)");
		sockets.at(-1)!.close();
		await waitFor(async () => rowsOf((await run()).text)[CELL] === 2, { what: "the closed socket's count gone" });
	});
});
