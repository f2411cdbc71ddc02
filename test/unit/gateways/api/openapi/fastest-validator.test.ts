import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { objectSchema, patternOf, ruleObject, ruleToSchema } from "../../../../../gateways/api/openapi/fastest-validator.ts";
import { profileParams } from "../../../../../services/vendors/model.ts";

const ajv = new Ajv2020({ strict: false });

describe("fastest-validator rules as JSON Schema", () => {
	it("reads the shorthand", () => {
		expect(ruleObject("number|optional|min:1|convert:true")).toEqual({ type: "number", optional: true, min: 1, convert: true });
		expect(ruleToSchema("string|min:2")).toEqual({ type: "string", minLength: 2 });
	});

	it("converts the rule types the actions use", () => {
		expect(ruleToSchema({ type: "string", trim: true, min: 1, max: 64, pattern: /^[\w-]{1,64}$/ })).toEqual({
			type: "string",
			minLength: 1,
			maxLength: 64,
			pattern: "^[\\w-]{1,64}$",
		});
		expect(ruleToSchema({ type: "string", empty: false })).toEqual({ type: "string", minLength: 1 });
		expect(ruleToSchema({ type: "number", integer: true, min: 0, max: 15, convert: true })).toEqual({
			type: "integer",
			minimum: 0,
			maximum: 15,
		});
		expect(ruleToSchema({ type: "boolean", convert: true })).toEqual({ type: "boolean" });
		expect(ruleToSchema({ type: "enum", values: ["a", "b"] })).toEqual({ enum: ["a", "b"] });
		expect(ruleToSchema({ type: "email", max: 254 })).toEqual({ type: "string", format: "email", maxLength: 254 });
		expect(ruleToSchema({ type: "array", items: { type: "string" }, min: 1, max: 10, unique: true })).toEqual({
			type: "array",
			items: { type: "string" },
			minItems: 1,
			maxItems: 10,
			uniqueItems: true,
		});
		expect(ruleToSchema({ type: "object" })).toEqual({ type: "object" });
	});

	it("adds null for nullable rules", () => {
		expect(ruleToSchema({ type: "string", nullable: true })).toEqual({ type: ["string", "null"] });
		expect(ruleToSchema({ type: "enum", values: ["a"], nullable: true })).toEqual({ enum: ["a", null] });
		expect(ruleToSchema({ type: "object", nullable: true, props: { a: { type: "number" } } })).toEqual({
			type: ["object", "null"],
			required: ["a"],
			properties: { a: { type: "number" } },
		});
		expect(ruleToSchema({ type: "multi", nullable: true, rules: [{ type: "string" }, { type: "number" }] })).toEqual({
			anyOf: [{ anyOf: [{ type: "string" }, { type: "number" }] }, { type: "null" }],
		});
	});

	it("makes params an object schema: required unless optional, closed when strict", () => {
		expect(objectSchema({ $$strict: true, id: { type: "string" }, q: { type: "string", optional: true } }, true)).toEqual({
			type: "object",
			additionalProperties: false,
			required: ["id"],
			properties: { id: { type: "string" }, q: { type: "string" } },
		});
	});

	it("throws on a rule type it has no schema for", () => {
		expect(() => ruleToSchema({ type: "luhn" })).toThrow(/luhn/);
	});

	it("keeps a pattern's meaning without flags: `i` becomes both cases, escapes and classes stay", () => {
		const cases: [RegExp, string[], string[]][] = [
			[/^https?:\/\/\S+$/i, ["HTTPS://x", "http://y", "Http://z"], ["ftp://x", "https:// x"]],
			[/^[a-c]x\p{L}$/iu, ["Bxé", "aXz"], ["dxa", "ax1"]],
			[/^(?<scheme>web)$/i, ["WEB", "web"], ["we"]],
		];
		for (const [regex, good, bad] of cases) {
			const pattern = new RegExp(patternOf(regex)!, "u");
			for (const text of good) expect(pattern.test(text), `${regex} ${text}`).toBe(true);
			for (const text of bad) expect(pattern.test(text), `${regex} ${text}`).toBe(false);
		}
		expect(patternOf({})).toBeUndefined();
	});

	it("gives a schema that accepts what the vendor profile rules accept, and refuses what they refuse", () => {
		const validate = ajv.compile(objectSchema(profileParams, true));
		expect(validate({ name: "Taco Truck", website: "HTTPS://tacos.example", categories: ["tacos"], location: null })).toBe(true);
		expect(validate({ name: "", categories: ["tacos"] })).toBe(false);
		expect(validate({ name: "x", website: "ftp://tacos.example" })).toBe(false);
		expect(validate({ name: "x", extra: 1 })).toBe(false);
	});
});
