import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { Output, runCommand } from "../../../scripts/repl/cli.ts";
import { REPL_COMMANDS } from "../../../scripts/repl/commands.ts";
import { operatorCaller } from "../../../lib/identity.ts";

const operator = operatorCaller("tester");
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
		["role", ["user_1", "emperor"], {}, /role must be customer, vendor, admin/],
		["role", ["user_1"], {}, /missing argument/],
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
