import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { ROOT } from "./process.ts";

/**
 * Checks answers against docs/openapi.json (the committed document; openapi.test.ts keeps it equal
 * to what an engine serves): the REST helpers call `assertMatchesSpec` on every answer they get, so
 * a response that drifts from its schema fails the test that got it.
 */

type Spec = {
	paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> }>>;
	components: { responses: Record<string, { content?: Record<string, unknown> }> };
};

export const SPEC = JSON.parse(readFileSync(join(ROOT, "docs", "openapi.json"), "utf8")) as Spec;

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema(SPEC, "spec");

const pointer = (...parts: string[]) => parts.map(p => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

/** Path templates as patterns, literal ones first (`/api/me/favorites` before `/api/me/favorites/{vendorId}`). */
const TEMPLATES = Object.keys(SPEC.paths)
	.map(template => ({ template, pattern: new RegExp(`^${template.replace(/\{\w+\}/g, "[^/]+")}$`), params: template.split("{").length }))
	.sort((a, b) => a.params - b.params);

const validators = new Map<string, ValidateFunction>();
function validatorAt(path: string): ValidateFunction {
	let validate = validators.get(path);
	if (!validate) {
		validate = ajv.compile({ $ref: `spec#/${path}` });
		validators.set(path, validate);
	}
	return validate;
}

/** The JSON pointer of the schema of `status` answers of an operation (or of any unrouted path: the error body). */
function schemaPointer(method: string, path: string, status: number): string {
	const found = TEMPLATES.find(t => t.pattern.test(path));
	if (!found) {
		if (status === 404) return pointer("components", "responses", "Error404", "content", "application/json", "schema");
		throw new Error(`${method} ${path} answered ${status}, but the path is not in docs/openapi.json`);
	}
	const operation = SPEC.paths[found.template]?.[method.toLowerCase()];
	if (!operation) throw new Error(`${method} ${found.template} is not in docs/openapi.json (status ${status})`);
	const response = operation.responses[String(status)];
	if (!response) throw new Error(`${method} ${found.template} answered ${status}, which docs/openapi.json does not list for it`);
	if (response.$ref) {
		const name = response.$ref.split("/").pop()!;
		return pointer("components", "responses", name, "content", "application/json", "schema");
	}
	return pointer("paths", found.template, method.toLowerCase(), "responses", String(status), "content", "application/json", "schema");
}

/** Throws when a JSON answer does not match what docs/openapi.json says `method path` answers with `status`. */
export function assertMatchesSpec(method: string, url: string, status: number, contentType: string | null, body: unknown): void {
	const path = new URL(url, "http://x").pathname;
	const at = schemaPointer(method.toUpperCase(), path, status);
	if (!contentType?.includes("application/json")) return;
	const validate = validatorAt(at);
	if (!validate(body)) {
		const problems = (validate.errors ?? [])
			.map(e => `${e.instancePath || "(body)"} ${e.message} ${JSON.stringify(e.params)}`)
			.join("\n  ");
		throw new Error(
			`${method} ${path} → ${status} does not match docs/openapi.json:\n  ${problems}\nbody: ${JSON.stringify(body).slice(0, 500)}`
		);
	}
}
