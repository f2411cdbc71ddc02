import type { JsonSchema } from "../../../lib/openapi.ts";

/**
 * fastest-validator rules → JSON Schema 2020-12, for the rule types the actions use. Ours because
 * moleculer-auto-openapi, the package that does this for Moleculer, writes OpenAPI 3.0 (see
 * docs/rest-api.md#openapi). A rule type it does not know throws, so a new one is noticed here.
 */

/** A fastest-validator rule as actions write it: an object, or the `"string|optional"` shorthand. */
export type Rule = string | { readonly type: string; readonly [option: string]: unknown };
export type Params = { readonly [name: string]: Rule | boolean };

type RuleObject = Exclude<Rule, string>;

/** The rule as an object (`"number|optional|min:1"` → `{ type: "number", optional: true, min: 1 }`). */
export function ruleObject(rule: Rule): RuleObject {
	if (typeof rule !== "string") return rule;
	const [type = "any", ...options] = rule.split("|");
	const parsed: Record<string, unknown> = { type };
	for (const option of options) {
		const [key = "", value] = option.split(":");
		parsed[key] =
			value === undefined || value === "true" ? true : value === "false" ? false : Number.isNaN(Number(value)) ? value : Number(value);
	}
	return parsed as RuleObject;
}

/** The names of the params that are fields (not `$$strict` and friends). */
export const fieldNames = (params: Params): string[] => Object.keys(params).filter(name => !name.startsWith("$$"));

export const isOptional = (rule: Rule): boolean => {
	const r = ruleObject(rule);
	return r.optional === true || r.default !== undefined;
};

/**
 * A RegExp's source as an ECMA-262 pattern without flags: JSON Schema patterns have none, so the
 * `i` flag becomes both cases of every letter. Escapes (`\S`, `\p{L}`) and group syntax are kept.
 */
export function patternOf(pattern: unknown): string | undefined {
	if (typeof pattern === "string") return pattern;
	// A RegExp that crossed the mesh arrives as `{}` (JSON): no pattern is better than a wrong one.
	if (!(pattern instanceof RegExp)) return undefined;
	if (!pattern.flags.includes("i")) return pattern.source;
	let out = "";
	let inClass = false;
	const src = pattern.source;
	for (let i = 0; i < src.length; i++) {
		const c = src[i]!;
		if (c === "\\") {
			const braced = /^\\[pPu]\{[^}]*\}/.exec(src.slice(i));
			const sequence = braced ? braced[0] : src.slice(i, i + 2);
			out += sequence;
			i += sequence.length - 1;
		} else if (!inClass && src.startsWith("(?<", i) && !/^\(\?<[=!]/.test(src.slice(i))) {
			const end = src.indexOf(">", i);
			out += src.slice(i, end + 1);
			i = end;
		} else if (c === "[") {
			inClass = true;
			out += c;
		} else if (c === "]" && inClass) {
			inClass = false;
			out += c;
		} else if (/[a-z]/i.test(c)) {
			const other = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
			const range = inClass && src[i + 1] === "-" && /[a-z]/i.test(src[i + 2] ?? "") ? src[i + 2]! : undefined;
			if (range) {
				const otherEnd = range === range.toLowerCase() ? range.toUpperCase() : range.toLowerCase();
				out += `${c}-${range}${other}-${otherEnd}`;
				i += 2;
			} else out += inClass ? `${c}${other}` : `[${c}${other}]`;
		} else out += c;
	}
	return out;
}

const defined = (schema: Record<string, unknown>): JsonSchema =>
	Object.fromEntries(Object.entries(schema).filter(([, v]) => v !== undefined));

function stringSchema(r: RuleObject): JsonSchema {
	const length = typeof r.length === "number" ? r.length : undefined;
	return defined({
		type: "string",
		minLength: length ?? (r.min as number | undefined) ?? (r.empty === false ? 1 : undefined),
		maxLength: length ?? (r.max as number | undefined),
		pattern: patternOf(r.pattern),
	});
}

function numberSchema(r: RuleObject): JsonSchema {
	return defined({
		type: r.integer ? "integer" : "number",
		minimum: r.min as number | undefined,
		maximum: r.max as number | undefined,
		exclusiveMinimum: r.positive ? 0 : undefined,
		exclusiveMaximum: r.negative ? 0 : undefined,
	});
}

function arraySchema(r: RuleObject): JsonSchema {
	return defined({
		type: "array",
		items: r.items === undefined ? undefined : ruleToSchema(r.items as Rule),
		minItems: r.min as number | undefined,
		maxItems: r.max as number | undefined,
		uniqueItems: r.unique ? true : undefined,
	});
}

/** The rule's schema without its `nullable`. */
function baseSchema(r: RuleObject): JsonSchema {
	switch (r.type) {
		case "string":
			return stringSchema(r);
		case "email":
			return defined({ type: "string", format: "email", maxLength: r.max as number | undefined });
		case "url":
			return { type: "string", format: "uri" };
		case "uuid":
			return { type: "string", format: "uuid" };
		case "number":
			return numberSchema(r);
		case "boolean":
			return { type: "boolean" };
		case "date":
			return { type: "string", format: "date-time" };
		case "enum":
			return { enum: r.values as readonly unknown[] };
		case "equal":
			return { const: r.value };
		case "array":
			return arraySchema(r);
		case "object":
			return r.props ? objectSchema(r.props as Params, r.strict === true || r.strict === "remove") : { type: "object" };
		case "multi":
			return { anyOf: (r.rules as Rule[]).map(ruleToSchema) };
		case "any":
			return {};
	}
	throw new Error(`No JSON Schema for the fastest-validator rule type "${r.type}"`);
}

/** One rule as JSON Schema; `nullable` adds `null`. */
export function ruleToSchema(rule: Rule): JsonSchema {
	const r = ruleObject(rule);
	const schema = baseSchema(r);
	if (r.nullable !== true) return schema;
	if (typeof schema.type === "string") return { ...schema, type: [schema.type, "null"] };
	if (schema.enum) return { enum: [...(schema.enum as unknown[]), null] };
	return { anyOf: [schema, { type: "null" }] };
}

/** The params (or an object rule's `props`) as an object schema; `strict` refuses unknown fields. */
export function objectSchema(params: Params, strict: boolean): JsonSchema {
	const names = fieldNames(params);
	const required = names.filter(name => !isOptional(params[name] as Rule));
	return defined({
		type: "object",
		additionalProperties: strict ? false : undefined,
		required: required.length > 0 ? required : undefined,
		properties: Object.fromEntries(names.map(name => [name, ruleToSchema(params[name] as Rule)])),
	});
}
