import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionSchema } from "moleculer";
import { doc, tableAfter } from "../../helpers/docs.ts";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitForRoutes } from "../../helpers/live.ts";

/** What moleculer-web keeps of each route it serves. */
type Alias = { method: string; fullPath: string; action?: string };

/** The access a route's action declares, in the words of docs/rest-api.md. */
function accessOf(actionName: string | undefined, schema: ActionSchema | undefined): string {
	if (!actionName) return "public";
	if (actionName.startsWith("webhooks.")) return "signature";
	if (schema?.owns) return "owner";
	if (schema?.roles) return schema.roles.join(" or ");
	if (schema?.auth === "required") return "token";
	return "public";
}

describe("the REST route table of docs/rest-api.md", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine();
		await waitForRoutes(engine.baseUrl);
	});
	afterAll(() => engine.stop());

	it("is every route the gateway serves, with the action and access it has, and nothing else", () => {
		const api = engine.broker.getLocalService("api") as unknown as { aliases: Alias[] };
		const actions = new Map(
			engine.broker.registry.getActionList({ onlyLocal: true }).map(a => [a.name, (a as unknown as { action: ActionSchema }).action])
		);
		const served = api.aliases
			.map(a =>
				[a.method, a.fullPath, a.action ?? "api (gateway)", accessOf(a.action, a.action ? actions.get(a.action) : undefined)].join(" ")
			)
			.sort();
		const documented = tableAfter(doc("rest-api.md"), "## Routes")
			.map(row => row.join(" "))
			.sort();
		expect(documented).toEqual(served);
	});
});
