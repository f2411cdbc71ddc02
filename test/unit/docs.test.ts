import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ENV_VARIABLES } from "../../config/index.ts";
import { LIVE_METRICS } from "../../gateways/live/contract.ts";
import { CLOSE_CODES, ERROR_CODES, STANDARD_CLOSE_CODES } from "../../gateways/live/protocol/codes.ts";
import { DOMAIN_EVENTS } from "../../lib/events.ts";
import { doc, tableAfter } from "../helpers/docs.ts";
import { ROOT } from "../helpers/process.ts";

/** docs/ is the public contract: its tables say exactly what the code defines. */
describe("docs/ against the code", () => {
	it("lists every socket error code, and no other", () => {
		const codes = tableAfter(doc("live-protocol.md"), "## Error codes").map(([code]) => code);
		expect(codes.sort()).toEqual(Object.values(ERROR_CODES).sort());
	});

	it("lists every close code with its name, and no other", () => {
		const named = (heading: string) =>
			Object.fromEntries(tableAfter(doc("live-protocol.md"), heading).map(([code, name]) => [name, Number(code)]));
		expect(named("## Close codes")).toEqual(CLOSE_CODES);
		expect(named("Standard codes the gateway sends")).toEqual(STANDARD_CLOSE_CODES);
	});

	it("lists every environment variable the engine reads, and no other", () => {
		const variables = tableAfter(doc("configuration.md"), "## Variables").map(([name]) => name);
		expect(variables.sort()).toEqual([...ENV_VARIABLES].sort());
	});

	it("lists every domain event, each emitted where it says", () => {
		const rows = tableAfter(doc("architecture.md"), "## Domain events");
		expect(rows.map(([name]) => name).sort()).toEqual([...DOMAIN_EVENTS].sort());
		for (const [name, emitter] of rows) {
			const folder = join(ROOT, "services", emitter!);
			const sources = readdirSync(folder)
				.filter(f => f.endsWith(".ts"))
				.map(f => readFileSync(join(folder, f), "utf8"));
			expect(
				sources.some(s => s.includes(`"${name}"`)),
				`${name} emitted in services/${emitter}/`
			).toBe(true);
		}
	});

	it("lists the live metrics the gateway registers", () => {
		const metrics = tableAfter(doc("live-protocol.md"), "## Metrics").map(([name]) => name);
		expect(metrics.sort()).toEqual(
			Object.values(LIVE_METRICS)
				.map(m => m.replaceAll(".", "_"))
				.sort()
		);
	});
});
