import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { operatorCaller } from "../../../lib/identity.ts";
import { Output, runCommand } from "../../../scripts/repl/cli.ts";
import { REPL_COMMANDS } from "../../../scripts/repl/commands.ts";

const spec = (name: string) => REPL_COMMANDS.find(c => c.command.split(" ")[0] === name)!;

describe("REPL outbound commands: arguments and errors", () => {
	// No services: a bad argument must be refused before anything is called.
	const broker = new ServiceBroker({ logger: false, nodeID: "repl-outbound-test" });
	beforeAll(() => broker.start());
	afterAll(() => broker.stop());

	it.each([
		["deliveries", ["replay"], {}, /deliveries replay needs a delivery id or --endpoint <id>/],
		["deliveries", ["replay", "msg_1"], { endpoint: "ep_1" }, /deliveries replay needs a delivery id or --endpoint <id>/],
		["deliveries", [], { pending: true, dead: true }, /give one of --pending, --failed, --dead/],
		["deliveries", ["purge"], {}, /unknown deliveries subcommand "purge"/],
		["deliveries", [], { limit: "0" }, /--limit must be an integer from 1 to 500/],
		["hook", ["add", "https://hooks.example.com/"], {}, /events must be domain events/],
		["hook", ["add", "https://hooks.example.com/", "location.nope"], {}, /unknown: location.nope/],
		["hook", ["rm", "ep_1", "extra"], {}, /too many arguments: extra/],
		["hook", ["edit", "ep_1"], {}, /unknown hook subcommand "edit"/],
	] as const)("%s %j %j prints the error and the usage line", async (name, args, options, message) => {
		const lines: string[] = [];
		const input = { args: [...args], options: { ...options }, operator: operatorCaller("tester") };
		expect(await runCommand(spec(name), broker, input, new Output(null, t => lines.push(t)))).toBe(false);
		expect(lines.join("\n")).toMatch(message);
		expect(lines.join("\n")).toContain(`Usage: ${spec(name).usage}`);
	});
});
