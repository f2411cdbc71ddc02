import { ERROR_BODY_SCHEMA } from "../../../lib/errors.ts";
import type { JsonSchema } from "../../../lib/openapi.ts";
import { RATE_LIMIT_HEADERS } from "../rate-limit.ts";

/** The document's `components`: named schemas, the error answers, the security schemes, the rate-limit headers. */

/** When each error status is answered (docs/rest-api.md's error table, in short). */
export const ERROR_STATUSES: Record<number, string> = {
	400: "INVALID_JSON, BAD_REQUEST: the body is not JSON; a malformed request",
	401: "NO_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED, UNAUTHORIZED: no token where one is needed; a bad or expired token",
	403: "FORBIDDEN, NOT_ACTIVE, SUBSCRIPTION_REQUIRED: not yours, not your role; the vendor may not broadcast",
	404: "NOT_FOUND: no such vendor, user or route",
	409: "CONFLICT: a transition that is not allowed; a position older than the stored one",
	413: "PAYLOAD_TOO_LARGE: body over 256 kB",
	415: "UNSUPPORTED_MEDIA_TYPE: a compressed body, or a charset other than UTF-8",
	422: "VALIDATION_ERROR: invalid params; `data` lists `{ type, field, message }` per field; nothing was written",
	429: "RATE_LIMITED: over a rate limit (Retry-After says when to retry); positions above POSITION_MAX_HZ",
	503: "SERVICE_UNAVAILABLE: a service or store the request needs is not reachable: retry",
	504: "REQUEST_TIMEOUT: a service the request needs did not answer in time: retry",
};

const RATE_LIMIT_HEADER_TEXT: Record<string, string> = {
	"RateLimit-Limit": "Requests of this budget per minute",
	"RateLimit-Remaining": "Requests left in this window",
	"RateLimit-Reset": "Seconds until the window ends",
	"Retry-After": "Seconds to wait (429 only)",
};

export const SECURITY_SCHEMES = {
	bearerAuth: {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description: "A Clerk session token, or outside production a dev token (`npm run -s token -- --sub <user id>`).",
	},
	metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN, when it is set." },
} as const;

/** `$ref`s of answers and headers the operations share. */
export const errorRef = (status: number) => ({ $ref: `#/components/responses/Error${status}` });
export const rateLimitHeaderRefs = (withRetryAfter: boolean) =>
	Object.fromEntries(
		RATE_LIMIT_HEADERS.filter(name => withRetryAfter || name !== "Retry-After").map(name => [
			name,
			{ $ref: `#/components/headers/${name}` },
		])
	);

/** The error answers (one per status, each with the one ErrorBody) and the rate-limit headers. */
export function sharedComponents(): { responses: Record<string, object>; headers: Record<string, object> } {
	const responses = Object.fromEntries(
		Object.entries(ERROR_STATUSES).map(([status, description]) => [
			`Error${status}`,
			{
				description,
				// The limiter's refusal says when to retry (a refused position above POSITION_MAX_HZ does not).
				...(status === "429" ? { headers: rateLimitHeaderRefs(true) } : {}),
				content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
			},
		])
	);
	const headers = Object.fromEntries(
		RATE_LIMIT_HEADERS.map(name => [name, { description: RATE_LIMIT_HEADER_TEXT[name], schema: { type: "integer", minimum: 0 } }])
	);
	return { responses, headers };
}

/**
 * Collects the named (`title`d) schemas: each is kept once in `components.schemas` and replaced by
 * a `$ref` wherever it appears. Two different schemas under one title are a mistake in a contract.
 */
export class SchemaRegistry {
	readonly schemas: Record<string, JsonSchema> = {};
	readonly #seen = new Map<string, string>();

	constructor() {
		this.ref(ERROR_BODY_SCHEMA);
	}

	/** The schema with its named parts (and itself, when named) as `$ref`s. */
	ref(schema: JsonSchema): JsonSchema {
		const title = schema.title;
		if (typeof title !== "string") return this.#hoistParts(schema);
		// A description says what the schema is at this place (`location`: "the spot of a stall"), so it stays here.
		const { description, ...named } = schema;
		const hoisted = this.#hoistParts(named);
		const text = JSON.stringify(hoisted);
		const known = this.#seen.get(title);
		if (known !== undefined && known !== text) throw new Error(`Two different schemas are titled "${title}"`);
		this.#seen.set(title, text);
		this.schemas[title] = hoisted;
		return { $ref: `#/components/schemas/${title}`, ...(description === undefined ? {} : { description }) };
	}

	#hoistParts(schema: JsonSchema): JsonSchema {
		const out: Record<string, unknown> = {};
		for (const [keyword, value] of Object.entries(schema)) {
			if (keyword === "properties" && value && typeof value === "object")
				out[keyword] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, this.#part(s)]));
			else if (["items", "not"].includes(keyword)) out[keyword] = this.#part(value);
			else if (["oneOf", "anyOf", "allOf", "prefixItems"].includes(keyword) && Array.isArray(value))
				out[keyword] = value.map(s => this.#part(s));
			else out[keyword] = value;
		}
		return out;
	}

	#part(value: unknown): unknown {
		return value && typeof value === "object" && !Array.isArray(value) ? this.ref(value as JsonSchema) : value;
	}
}
