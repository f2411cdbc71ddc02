import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceBroker } from "moleculer";
import { Output, runCommand } from "../../../scripts/repl/cli.ts";
import { REPL_COMMANDS } from "../../../scripts/repl/commands.ts";
import { operatorIdentity, parseBBox } from "../../../scripts/repl/ops/common.ts";
import { liveRates, type LiveSample } from "../../../scripts/repl/ops/live.ts";
import { freePort, TEST_DEV_SECRET } from "../../helpers/engine.ts";
import { startRepl } from "../../helpers/repl.ts";

const operator = operatorIdentity("tester");
const spec = (name: string) => REPL_COMMANDS.find(c => c.command.split(" ")[0] === name)!;

/** Runs one REPL command the way moleculer-repl hands it over; returns what it printed. */
async function run(broker: ServiceBroker, name: string, args: string[] = [], options: Record<string, string | boolean> = {}) {
	const lines: string[] = [];
	const ok = await runCommand(spec(name), broker, { args, options, operator }, new Output(null, text => lines.push(text)));
	return { ok, text: lines.join("\n") };
}

describe("REPL commands: arguments and errors", () => {
	// A broker with no services at all: whatever a command needs is missing.
	const broker = new ServiceBroker({ logger: false, nodeID: "repl-commands-test" });
	beforeAll(() => broker.start());
	afterAll(() => broker.stop());

	it.each([
		["online", [], { bbox: "1,2,3" }, /bbox must be w,s,e,n/],
		["online", [], { cell: "zzz" }, /"zzz" is not an H3 cell id/],
		["online", ["extra"], {}, /too many arguments: extra/],
		["online", ["--foo"], {}, /unknown option --foo/],
		["sockets", [], { window: "0" }, /--window must be a number from 0.1 to 60/],
		["near", ["91", "0"], {}, /lat must be a number from -90 to 90/],
		["near", ["1", "x"], {}, /lng must be a number/],
		["near", ["1", "2", "0"], {}, /radius must be a number from 1 to 50000/],
		["near", ["1"], {}, /missing argument/],
		["cells", [], { top: "2.5" }, /--top must be an integer/],
		["cells", [], { top: true }, /--top needs a value/],
		["vendor", ["suspend"], {}, /vendor suspend needs a vendor id/],
		["vendor", ["ven_1", "ven_2"], {}, /unknown vendor subcommand "ven_1"/],
		["inbox", [], { source: "stripe" }, /--source must be clerk or revenuecat/],
		["inbox", ["replay"], {}, /inbox replay needs an event id/],
		["inbox", ["purge"], {}, /unknown inbox subcommand "purge"/],
		["inbox", [], { limit: "0" }, /--limit must be an integer from 1 to 500/],
		["kick", ["a", "b"], {}, /too many arguments: b/],
	] as const)("%s %j %j prints the error and the usage line, no stack", async (name, args, options, message) => {
		const { ok, text } = await run(broker, name, [...args], { ...options });
		expect(ok).toBe(false);
		expect(text).toMatch(message);
		expect(text).toContain(`Usage: ${spec(name).usage}`);
		expect(text).not.toMatch(/\n\s+at /);
	});

	it("a service missing from the cluster is one line, not a stack", async () => {
		const { ok, text } = await run(broker, "online");
		expect(ok).toBe(false);
		expect(text).toBe("Error: Not available: geo.heatmap is not running in the cluster (see `services`).");
		expect((await run(broker, "sockets", [], { window: "0.1" })).text).toBe("No live gateway node in the cluster.");
	});

	it("negative coordinates are numbers, not options", async () => {
		const { text } = await run(broker, "near", ["-33.9", "-70.6"]);
		expect(text).toMatch(/discovery\.nearby is not running/);
	});
});

describe("REPL rates and boxes (pure)", () => {
	const sample = (
		node: string,
		at: number,
		counters: Partial<Record<"positionsIn" | "positionsDropped" | "routedIn" | "deliveries", number>>
	): LiveSample => ({
		node,
		at,
		stats: {
			node,
			sockets: 2,
			watchers: 1,
			vendors: 1,
			slowSockets: 0,
			backpressureDrops: 0,
			slowConsumersClosed: 0,
			watchedCells: 7,
			routingSubjects: ["841f1d5ffffffff"],
			counters: { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0, ...counters },
		},
	});

	it("computes per-second rates from the nodes' own counters over the time between two samples", () => {
		const [row] = liveRates(
			[sample("a", 1_000, { positionsIn: 10, deliveries: 100 })],
			[sample("a", 3_000, { positionsIn: 30, deliveries: 180, positionsDropped: 4, routedIn: 1 })]
		);
		expect(row).toMatchObject({
			node: "a",
			sockets: 2,
			watchers: 1,
			vendors: 1,
			watchedCells: 7,
			windowS: 2,
			inPerS: 10,
			deliveriesPerS: 40,
			droppedPerS: 2,
			routedInPerS: 0.5,
			positionsIn: 30,
		});
	});

	it("a node seen only in the second sample has totals but no rate; a node that failed to answer says why", () => {
		const rows = liveRates(
			[],
			[sample("new", 5_000, { positionsIn: 9 }), { node: "down", at: 5_000, stats: null, error: "Request timed out" }]
		);
		expect(rows[0]).toMatchObject({ node: "new", positionsIn: 9, inPerS: 0, windowS: 0 });
		expect(rows[1]).toMatchObject({ node: "down", sockets: 0, error: "Request timed out" });
	});

	it("parses w,s,e,n boxes and refuses bad ones", () => {
		expect(parseBBox("-9.2,38.7,-9.1,38.8")).toEqual([-9.2, 38.7, -9.1, 38.8]);
		for (const bad of ["", "1,2,3", "1,2,3,x", "10,0,5,1", "0,10,1,5", "-181,0,0,1", "0,-91,1,0", "0,,1,2"]) {
			expect(() => parseBBox(bad), bad).toThrow(/bbox must be/);
		}
	});
});

describe("npm run repl without NATS_URL: the embedded engine with the REPL attached", () => {
	const home = mkdtempSync(join(tmpdir(), "venta-repl-home-"));
	afterAll(() => rmSync(home, { recursive: true, force: true }));

	it("runs every service in-process, answers commands, exits 0", async () => {
		const repl = await startRepl(
			{
				HOME: home,
				NODE_ENV: "test",
				DATA_DIR: ":memory:",
				AUTH_DEV_SECRET: TEST_DEV_SECRET,
				PORT: String(await freePort()),
				LIVE_PORT: String(await freePort()),
			},
			"venta $"
		);
		const send = repl.send;
		try {
			const services = await send("services", text => text.includes("webhooks"));
			for (const name of ["api", "users", "vendors", "discovery", "geo", "webhooks", "live"]) expect(services).toContain(name);
			expect(await send("online", text => text.includes("online"))).toContain("No vendor online here.");
			expect(await send("sockets --window 0.1", text => text.includes("Routed-in/s"))).toMatch(/│ 0\s+│/);
			expect(await send("inbox", text => text.includes("webhook"))).toContain("No recorded webhook events.");
			expect(await repl.exit()).toBe(0);
		} finally {
			repl.kill();
		}
	});
});
