import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import type { ActionSchema } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servedOpenApi, type ServedAlias } from "../../../gateways/api/openapi/route.ts";
import { fetchOpenApi, OPENAPI_FILE, openapiFileText } from "../../../scripts/openapi.ts";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";
import { restClient } from "../../helpers/rest.ts";
import { ROOT } from "../../helpers/process.ts";

type Schema = { $ref?: string; allOf?: Schema[]; properties?: Record<string, Schema>; required?: string[]; [k: string]: unknown };
type Parameter = { name: string; in: string; required?: boolean; schema: Schema };
type Operation = { parameters: Parameter[]; requestBody?: { content: { "application/json": { schema: Schema } } } };
type Document = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
type Rule = { type: string; optional?: boolean; integer?: boolean; values?: unknown[]; nullable?: boolean };

/** The JSON types a fastest-validator rule's schema must allow (an independent reading of the rule). */
function expectedTypes(rule: Rule): string[] | undefined {
	const base: Record<string, string> = { string: "string", email: "string", boolean: "boolean", array: "array", object: "object" };
	if (rule.type === "number") return [rule.integer ? "integer" : "number"];
	if (rule.type === "enum") return undefined;
	return [base[rule.type]!];
}

/** A body schema's properties and required names, through `$ref` and `allOf`. */
function flatten(doc: Document, schema: Schema): { properties: Record<string, Schema>; required: string[] } {
	if (schema.$ref) return flatten(doc, doc.components.schemas[schema.$ref.split("/").pop()!]!);
	const parts = (schema.allOf ?? []).map(s => flatten(doc, s));
	return {
		properties: Object.assign({}, schema.properties, ...parts.map(p => p.properties)),
		required: [...(schema.required ?? []), ...parts.flatMap(p => p.required)],
	};
}

const typesOf = (schema: Schema): string[] => (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];

describe("the OpenAPI document", () => {
	let engine: TestEngine;
	let served: Document;
	beforeAll(async () => {
		engine = await startTestEngine();
		served = (await fetchOpenApi(engine.baseUrl)) as Document;
	});
	afterAll(() => engine?.stop());

	const gateway = () => engine.broker.getLocalService("api") as unknown as { aliases: (ServedAlias & { action?: string })[] };

	it("is what docs/openapi.json holds (run `npm run openapi` after changing a route)", () => {
		expect(readFileSync(OPENAPI_FILE, "utf8")).toBe(openapiFileText(served));
	});

	it("is valid OpenAPI 3.1", async () => {
		const api = await SwaggerParser.validate(structuredClone(served) as never);
		expect((api as { openapi: string }).openapi).toBe("3.1.0");
	});

	it("has every route the gateway serves, and nothing else", () => {
		const routed = gateway()
			.aliases.map(a => `${a.method} ${a.fullPath.replace(/:(\w+)/g, "{$1}")}`)
			.sort();
		const documented = Object.entries(served.paths)
			.flatMap(([path, ops]) => Object.keys(ops).map(method => `${method.toUpperCase()} ${path}`))
			.sort();
		expect(documented).toEqual(routed);
		expect(servedOpenApi(gateway().aliases, engine.broker).undocumented).toEqual([]);
	});

	it("has every param of every action with its name, whether it is required, and its type", () => {
		const actions = new Map(
			engine.broker.registry.getActionList({ onlyLocal: true }).map(a => [a.name, (a as unknown as { action: ActionSchema }).action])
		);
		let checked = 0;
		for (const alias of gateway().aliases) {
			if (!alias.action || alias.route.opts.mergeParams === false) continue;
			const op = served.paths[alias.fullPath.replace(/:(\w+)/g, "{$1}")]![alias.method.toLowerCase()]!;
			const body = op.requestBody ? flatten(served, op.requestBody.content["application/json"].schema) : { properties: {}, required: [] };
			const params = (actions.get(alias.action)!.params ?? {}) as Record<string, Rule>;
			for (const [name, rule] of Object.entries(params)) {
				if (name.startsWith("$$")) continue;
				const parameter = op.parameters.find(p => p.name === name);
				const schema = parameter?.schema ?? body.properties[name];
				const where = `${alias.method} ${alias.fullPath} ${name}`;
				expect(schema, where).toBeDefined();
				const required = parameter ? parameter.required === true : body.required.includes(name);
				expect(required, `${where} required`).toBe(!rule.optional);
				const types = expectedTypes(rule);
				if (types) expect(typesOf(schema!), `${where} type`).toEqual(rule.nullable ? [...types, "null"] : types);
				else expect(schema!.enum, `${where} values`).toEqual(rule.nullable ? [...rule.values!, null] : rule.values);
				if (parameter?.in === "path") expect(alias.fullPath).toContain(`:${name}`);
				checked++;
			}
		}
		expect(checked).toBeGreaterThan(40);
	});

	it("lists the error statuses the gateway really gives, each with the error body (the REST helper checks every answer)", async () => {
		const api = restClient(engine.baseUrl);
		const token = await engine.token("user_openapi");
		const statuses = [
			(await api.request("POST", "/api/vendors", { token, raw: "{not json" })).status,
			(await api.request("POST", "/api/vendors", { token, raw: "{}", headers: { "Content-Encoding": "gzip" } })).status,
			(await api.request("POST", "/api/vendors", { token, raw: JSON.stringify({ name: "x".repeat(300_000) }) })).status,
			(await api.post("/api/vendors", { name: "" }, token)).status,
			(await api.post("/api/vendors", { name: "x" })).status,
			(await api.get("/api/vendors", "not-a-token")).status,
			(await api.get("/api/vendors/ven_nobody")).status,
			(await api.get("/api/nothing-here")).status,
			(await api.get("/api/discovery/nearby?lat=100&lng=0")).status,
		];
		expect(statuses).toEqual([400, 415, 413, 422, 401, 401, 404, 404, 422]);
	});

	it("marks who may call: token routes need the bearer token, public ones take one optionally, webhooks none", () => {
		const security = (path: string, method: string) => (served.paths[path]![method] as unknown as { security: object[] }).security;
		expect(security("/api/me", "get")).toEqual([{ bearerAuth: [] }]);
		expect(security("/api/vendors/{id}", "patch")).toEqual([{ bearerAuth: [] }]);
		expect(security("/api/discovery/nearby", "get")).toEqual([{}, { bearerAuth: [] }]);
		expect(security("/webhooks/clerk", "post")).toEqual([]);
	});
});

describe("GET /docs", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api" });
	});
	afterAll(() => engine?.stop());

	it("is a page whose scripts and styles this gateway serves, by relative URLs, under a CSP of its own origin", async () => {
		const res = await fetch(`${engine.baseUrl}/docs`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("text/html");
		expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
		const html = await res.text();
		const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(m => m[1]!);
		expect(urls.sort()).toEqual(["docs/favicon-32x32.png", "docs/init.js", "docs/swagger-ui-bundle.js", "docs/swagger-ui.css"]);
		const bundle = await fetch(`${engine.baseUrl}/docs/swagger-ui-bundle.js`);
		expect(bundle.headers.get("content-type")).toContain("javascript");
		expect((await bundle.arrayBuffer()).byteLength).toBe(readFileSync(`${ROOT}node_modules/swagger-ui-dist/swagger-ui-bundle.js`).length);
		expect((await fetch(`${engine.baseUrl}/docs/swagger-ui.css`)).headers.get("content-type")).toContain("text/css");
		expect(await (await fetch(`${engine.baseUrl}/docs/init.js`)).text()).toContain('new URL("openapi.json", document.baseURI)');
	});

	it("serves no other file", async () => {
		for (const asset of ["index.html", "..%2Fpackage.json", "swagger-ui.js"]) {
			const res = await fetch(`${engine.baseUrl}/docs/${asset}`);
			expect(res.status, asset).toBe(404);
			expect(await res.json()).toMatchObject({ code: 404, type: "NOT_FOUND" });
		}
	});
});
