import type { JsonSchema } from "../../../lib/openapi.ts";
import { errorRef, type SchemaRegistry } from "./components.ts";

/** The gateway's own routes (handlers in api.service.ts and route.ts, no action): what each answers. */

type Answer = { description: string; schema?: JsonSchema; contentType?: string };
type GatewayOperation = {
	operationId: string;
	summary: string;
	answers: Record<number, Answer>;
	errors?: number[];
	security?: object[];
	parameters?: object[];
};

const HEALTH_LIVE_SCHEMA = {
	title: "Liveness",
	type: "object",
	additionalProperties: false,
	required: ["status", "nodeID"],
	properties: { status: { const: "ok" }, nodeID: { type: "string" } },
} as const;

/** runtime/health.ts's Readiness. */
const READINESS_SCHEMA = {
	title: "Readiness",
	type: "object",
	additionalProperties: false,
	required: ["ready", "nodeID", "checks"],
	properties: {
		ready: { type: "boolean" },
		nodeID: { type: "string" },
		checks: {
			type: "object",
			description: '`broker`, `transporter`, `cacher` and each local store: "ok" or the reason it is not',
			additionalProperties: { type: "string" },
		},
	},
} as const;

const PAGE_CONFIG_SCHEMA = {
	title: "PageConfig",
	type: "object",
	additionalProperties: false,
	required: ["tilesUrl", "livePort", "h3Res", "watchMaxCells"],
	properties: {
		tilesUrl: { type: ["string", "null"] },
		livePort: { type: "integer" },
		h3Res: { type: "integer", minimum: 0, maximum: 15 },
		watchMaxCells: { type: "integer", minimum: 1 },
	},
} as const;

/** The files of the /docs page (Swagger UI, from swagger-ui-dist). */
export const DOCS_ASSETS = ["swagger-ui.css", "swagger-ui-bundle.js", "init.js", "favicon-32x32.png"] as const;

export const GATEWAY_OPERATIONS: Record<string, GatewayOperation> = {
	"GET /health/live": {
		operationId: "health.live",
		summary: "The process runs",
		answers: { 200: { description: "Alive", schema: HEALTH_LIVE_SCHEMA } },
	},
	"GET /health/ready": {
		operationId: "health.ready",
		summary: "The node takes traffic",
		answers: {
			200: { description: "Ready", schema: READINESS_SCHEMA },
			503: { description: "Not ready (or shutting down): the checks say why", schema: READINESS_SCHEMA },
		},
	},
	"GET /metrics": {
		operationId: "metrics",
		summary: "Prometheus metrics",
		answers: { 200: { description: "Prometheus text format 0.0.4", schema: { type: "string" }, contentType: "text/plain" } },
		errors: [401],
		security: [{}, { metricsToken: [] }],
	},
	"GET /config.json": {
		operationId: "config",
		summary: "What the map page needs to know of this deployment",
		answers: { 200: { description: "OK", schema: PAGE_CONFIG_SCHEMA } },
	},
	"GET /openapi.json": {
		operationId: "openapi",
		summary: "This document",
		answers: { 200: { description: "OpenAPI 3.1", schema: { type: "object" } } },
		errors: [503],
	},
	"GET /docs": {
		operationId: "docs",
		summary: "This document as a page (Swagger UI)",
		answers: { 200: { description: "HTML", schema: { type: "string" }, contentType: "text/html" } },
	},
	"GET /docs/:asset": {
		operationId: "docs.asset",
		summary: "The scripts and styles of the page",
		answers: { 200: { description: "The file", schema: { type: "string" }, contentType: "application/octet-stream" } },
		errors: [404],
		parameters: [{ name: "asset", in: "path", required: true, schema: { enum: DOCS_ASSETS } }],
	},
};

/** The operation of a gateway route, or undefined when it is not described here. */
export function gatewayOperation(method: string, fullPath: string, schemas: SchemaRegistry): object | undefined {
	const op = GATEWAY_OPERATIONS[`${method} ${fullPath}`];
	if (!op) return undefined;
	const responses: Record<string, object> = {};
	for (const [status, answer] of Object.entries(op.answers)) {
		const schema = answer.schema ? schemas.ref(answer.schema) : {};
		responses[status] = { description: answer.description, content: { [answer.contentType ?? "application/json"]: { schema } } };
	}
	for (const status of op.errors ?? []) responses[String(status)] ??= errorRef(status);
	return {
		operationId: op.operationId,
		tags: ["gateway"],
		summary: op.summary,
		parameters: op.parameters ?? [],
		security: op.security ?? [],
		responses,
	};
}
