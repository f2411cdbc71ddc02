import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Output, runCommand } from "../../../scripts/repl/cli.ts";
import { REPL_COMMANDS } from "../../../scripts/repl/commands.ts";
import { operatorCaller } from "../../../lib/identity.ts";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";

const operator = operatorCaller("tester");
const spec = (name: string) => REPL_COMMANDS.find(c => c.command.split(" ")[0] === name)!;

describe("REPL zone commands against the alerts service", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "users,alerts" });
	});
	afterAll(() => engine?.stop());

	async function run(name: string, args: string[], options: Record<string, string | boolean> = {}) {
		const lines: string[] = [];
		const ok = await runCommand(spec(name), engine.broker, { args, options, operator }, new Output(null, text => lines.push(text)));
		return { ok, text: lines.join("\n") };
	}

	it("adds, lists and removes a zone as the operator", async () => {
		expect((await run("zones", [])).text).toContain("No zones.");
		const added = await run("zone", ["add", "Market", "13.40,52.50;13.41,52.50;13.41,52.51;13.40,52.51"], {
			on: "enter,dwell",
			dwell: "120",
		});
		expect(added.ok).toBe(true);
		const id = /zon_[\w-]{16}/.exec(added.text)?.[0];
		expect(id).toBeDefined();
		expect(added.text).toContain("enter,dwell");
		const listed = await run("zones", []);
		expect(listed.text).toContain(id!);
		expect(listed.text).toContain("Market");
		expect((await run("zone", ["rm", id!])).text).toBe(`Removed zone ${id}.`);
		expect((await run("zones", [])).text).toContain("No zones.");
	});

	it("prints what is wrong: bad points, a bad polygon, an unknown subcommand, a missing zone", async () => {
		expect((await run("zone", ["add", "x", "13.4;52.5"])).text).toMatch(/points must be lng,lat pairs/);
		const bowTie = await run("zone", ["add", "bow", "13.40,52.50;13.41,52.51;13.41,52.50;13.40,52.51"]);
		expect(bowTie.ok).toBe(false);
		expect(bowTie.text).toMatch(/cross/);
		expect((await run("zone", ["move", "x"])).text).toMatch(/unknown zone subcommand "move"/);
		expect((await run("zone", ["add", "x", "1,1;2,2;3,1"], { on: "linger" })).text).toMatch(/--on takes enter, exit, dwell/);
		const missing = await run("zone", ["rm", "zon_aaaaaaaaaaaaaaaa"]);
		expect(missing.ok).toBe(false);
		expect(missing.text).toMatch(/No such zone/);
	});
});
