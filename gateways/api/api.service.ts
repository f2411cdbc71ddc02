import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import type { Errors, Context, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import type { VentaService, VentaServiceSchema } from "../../config/settings.ts";
import { createTokenVerifier, type TokenVerifier } from "../../lib/auth.ts";
import { errorBody, noToken, unauthorized, validationError, type ErrorBody } from "../../lib/errors.ts";
import { jsonNestsDeeperThan } from "../../lib/json.ts";
import type { Caller } from "../../lib/identity.ts";
import { checkReadiness } from "../../runtime/health.ts";
import { metricsAuthorized, prometheusText } from "../../runtime/metrics.ts";
import { rateLimitRedis } from "../../runtime/rate-limit-store.ts";
import type { RedisClient } from "../../runtime/redis.ts";
import {
	BUDGET_METHODS,
	budgetAliases,
	budgetRoute,
	RATE_LIMIT_HEADERS,
	rateLimitRefusal,
	type BearerRequest,
	type Budget,
	type GatewayAlias,
	type GatewayRoute,
} from "./rate-limit.ts";
import { OPENAPI_ALIASES, servedOpenApi, type DocsHost, type ServedAlias } from "./openapi/route.ts";
import { webhookRoute } from "./webhook-route.ts";

/** Largest JSON body accepted on any route (webhooks included). */
export const BODY_LIMIT = "256kb";
/** Deepest nesting of a body; no request of the API needs more than a few levels. */
export const MAX_BODY_DEPTH = 32;
/** A request must arrive whole within this (slow clients trickling a body are cut off). */
export const REQUEST_TIMEOUT_MS = 15_000;
export const HEADERS_TIMEOUT_MS = 10_000;

/** body-parser's `verify`: a body nested deeper than MAX_BODY_DEPTH is refused before anything parses it. */
export function refuseDeepBodies(_req: unknown, _res: unknown, body: Buffer): void {
	if (jsonNestsDeeperThan(body, MAX_BODY_DEPTH))
		throw Object.assign(new Error(`The body nests deeper than ${MAX_BODY_DEPTH} levels`), { status: 422, type: "entity.too.deep" });
}

/** `/api` takes JSON. inflate: false — a compressed body (Content-Encoding) is refused with 415, never decompressed. */
const API_BODY_PARSERS = { json: { limit: BODY_LIMIT, strict: false, inflate: false, verify: refuseDeepBodies }, urlencoded: false };

/** moleculer-web's own, called by the override below. */
const gatewayMethods = ApiGateway.methods as { regenerateAutoAliases(this: unknown, route: GatewayRoute): void };

/** The built map page (`npm run build:web`), served at `/` when no route matches. */
const WEB_DIST = fileURLToPath(new URL("../../web/dist", import.meta.url));

type GatewayRequest = BearerRequest & {
	$action?: { auth?: string };
	$ctx?: Context;
	$startTime?: [number, number];
	originalUrl?: string;
};

type ApiMethods = {
	checkReady(): Promise<void>;
	logResponse(req: GatewayRequest, res: ServerResponse): void;
	stopAccepting(): void;
	createServer(): void;
	reformatError(err: Errors.MoleculerError): ErrorBody;
	authenticate(ctx: Context, route: unknown, req: GatewayRequest): Promise<Caller | null>;
	authorize(ctx: Context<unknown, { user?: unknown }>, route: unknown, req: GatewayRequest): Promise<void>;
	regenerateAutoAliases(route: GatewayRoute): void;
	/** moleculer-web's. */
	addRoute(opts: object): void;
};
/** `server` is moleculer-web's HTTP server, `aliases` its route table. */
type ApiVars = DocsHost & {
	verifyToken: TokenVerifier;
	/** The rate-limit counters' connection, with REDIS_URL. */
	rateLimitRedis: RedisClient | undefined;
	aliases: (GatewayAlias & ServedAlias)[];
	routesReady: boolean;
	server: Server;
	httpHandler: (req: IncomingMessage, res: ServerResponse) => void;
};
type ApiThis = VentaService<Record<string, unknown>, ApiMethods, ApiVars>;

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * What a request's span says of it (moleculer-web's `rest` action has `{ req, res }` as params):
 * the path as the client sent it (moleculer-web cuts the route's prefix off `url` later), no query string.
 */
function httpOf(ctx: Context): { method: string; path: string } {
	const { req } = ctx.params as { req: GatewayRequest };
	return { method: req.method ?? "", path: (req.originalUrl ?? req.url ?? "").split("?", 1)[0]! };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
	res.end(JSON.stringify(body));
}

/**
 * The REST gateway (moleculer-web): `/api/*` from the services' `rest` declarations, `/webhooks/*`,
 * health, metrics, the map page's config and the page itself.
 */
const ApiService: VentaServiceSchema<Record<string, unknown>, ApiMethods, ApiVars> = {
	name: "api",
	mixins: [ApiGateway as unknown as Partial<ServiceSchema>],

	settings: {
		// An untrusted X-Request-ID is replaced: it ends up in every log line of the request.
		rootCallOptions(options: { requestID?: string }) {
			if (!options.requestID || !REQUEST_ID.test(options.requestID)) options.requestID = randomUUID();
		},
		cors: {
			origin: "*",
			methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
			allowedHeaders: ["Authorization", "Content-Type", "X-Request-ID"],
			exposedHeaders: ["X-Request-ID", ...RATE_LIMIT_HEADERS],
			maxAge: 3600,
		},
		// Static files only answer what no route matched, so /api, /health, /metrics and /webhooks win.
		assets: { folder: WEB_DIST, options: { index: "index.html" } },
		// The `/api` routes, one per rate-limit budget, are added in `created`: they need the config.
		routes: [
			{
				path: "/",
				mappingPolicy: "restrict",
				aliases: {
					"GET health/live"(this: ApiThis, _req: IncomingMessage, res: ServerResponse) {
						sendJson(res, 200, { status: "ok", nodeID: this.broker.nodeID });
					},
					async "GET health/ready"(this: ApiThis, _req: IncomingMessage, res: ServerResponse) {
						const readiness = await checkReadiness(this.broker);
						sendJson(res, readiness.ready ? 200 : 503, readiness);
					},
					"GET metrics"(this: ApiThis, req: IncomingMessage, res: ServerResponse) {
						if (!metricsAuthorized(this.settings.config.metricsToken, req.headers.authorization)) {
							res.setHeader("WWW-Authenticate", "Bearer");
							throw unauthorized("A valid metrics token is required");
						}
						res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
						res.end(prometheusText(this.broker));
					},
					/** What the map page needs to know about this deployment. */
					"GET config.json"(this: ApiThis, _req: IncomingMessage, res: ServerResponse) {
						const { mapTilesUrl, livePort, h3Res, watchMaxCells } = this.settings.config;
						sendJson(res, 200, { tilesUrl: mapTilesUrl ?? null, livePort, h3Res, watchMaxCells });
					},
					...OPENAPI_ALIASES,
				},
			},
			webhookRoute(BODY_LIMIT, refuseDeepBodies),
		],
		// Every error answers with the status of its body (moleculer-web would write Moleculer's own
		// code first, e.g. 404 for a service that is not reachable, which errorBody makes a 503).
		onError(this: ApiThis, req: GatewayRequest, res: ServerResponse, err: Errors.MoleculerError) {
			if (!res.headersSent) {
				const body = rateLimitRefusal(err, res) ?? this.reformatError(err);
				sendJson(res, body.code, body);
			}
			this.logResponse(req, res);
		},
		// One structured line per response (see logResponse) instead of moleculer-web's text lines.
		logRequest: "debug",
		logResponse: "info",
		log4XXResponses: false,
		logRequestParams: null,
		logResponseData: null,
	},

	actions: {
		// A request is handled once: the calls inside it retry on their own, while retrying the whole
		// HTTP handling would re-run a consumed request (and answer 404 instead of the real error).
		rest: {
			retryPolicy: { enabled: false },
			// The root span of a request, named by method and path: the query string stays out of spans
			// (unbounded names, and it may hold a customer's position).
			tracing: {
				spanName: (ctx: Context) => `${httpOf(ctx).method} ${httpOf(ctx).path}`,
				tags: (ctx: Context) => ({ http: httpOf(ctx) }),
			},
		},
		// moleculer-web's route listing would otherwise be public at /api/api/list-aliases.
		listAliases: false,
	},

	events: {
		// moleculer-web builds the /api aliases from the registry a moment after start.
		// …and /openapi.json is built from them then: what this gateway really routes.
		"$api.aliases.regenerated"(ctx: Context) {
			if (ctx.nodeID !== this.broker.nodeID) return;
			const { document, undocumented } = servedOpenApi(this.aliases, this.broker);
			if (undocumented.length > 0) this.logger.warn({ undocumented }, "routes without an OpenAPI description");
			this.openapiJson = JSON.stringify(document);
			this.routesReady = true;
		},
	},

	methods: {
		/** moleculer-web's, keeping on each `/api` route only the aliases of its budget's methods. */
		regenerateAutoAliases(route: GatewayRoute) {
			gatewayMethods.regenerateAutoAliases.call(this, route);
			this.aliases = budgetAliases(this.aliases, route);
		},

		/** Ready once the REST routes of the services found at start exist (see runtime/health.ts). */
		async checkReady() {
			if (!this.routesReady) throw new Error("REST routes not built yet");
		},

		/** One JSON line per response, with the request id that every downstream log and event carries. */
		logResponse(req: GatewayRequest, res: ServerResponse) {
			const elapsed = req.$startTime ? process.hrtime(req.$startTime) : undefined;
			this.logger.info(
				{
					requestId: req.$ctx?.requestID ?? null,
					method: req.method,
					url: (req.originalUrl ?? req.url ?? "").replace(/([?&]token=)[^&]*/g, "$1[redacted]"),
					status: res.statusCode,
					ms: elapsed ? Math.round((elapsed[0] * 1e3 + elapsed[1] / 1e6) * 100) / 100 : null,
					user: (req.$ctx?.meta as { user?: { id: string } } | undefined)?.user?.id ?? null,
				},
				"request"
			);
		},

		/** moleculer-web's server, with bounds on how long a request may take to arrive (checked every second). */
		createServer() {
			const options = { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1_000 };
			this.server = createServer(options, this.httpHandler);
		},

		/** Shutdown begins: no new connections; requests already in flight still get their answers. */
		stopAccepting() {
			if (!this.server.listening) return;
			this.server.close();
			this.server.closeIdleConnections();
		},

		/** Every error in the one body shape; the body parser's refusals named. */
		reformatError(err: Errors.MoleculerError): ErrorBody {
			switch (err.type) {
				case "entity.parse.failed":
					return { name: "BadRequestError", message: "The request body is not valid JSON", code: 400, type: "INVALID_JSON" };
				case "entity.too.large":
					return {
						name: "PayloadTooLargeError",
						message: `The request body is larger than ${BODY_LIMIT}`,
						code: 413,
						type: "PAYLOAD_TOO_LARGE",
					};
				case "entity.too.deep":
					return errorBody(validationError(err.message, [{ type: "depth", field: "body", message: err.message }]));
				case "encoding.unsupported":
					return {
						name: "UnsupportedMediaTypeError",
						message: "Send the body uncompressed (no Content-Encoding)",
						code: 415,
						type: "UNSUPPORTED_MEDIA_TYPE",
					};
				case "charset.unsupported":
					return { name: "UnsupportedMediaTypeError", message: "Send the body as UTF-8", code: 415, type: "UNSUPPORTED_MEDIA_TYPE" };
			}
			return errorBody(err);
		},

		/** Resolves the caller from the bearer token (verified before the rate limiter, see rate-limit.ts); anonymous when there is none. */
		async authenticate(ctx: Context, _route: unknown, req: GatewayRequest): Promise<Caller | null> {
			const verified = req.$bearer;
			if (verified === undefined) return null;
			if (verified instanceof Error) throw verified;
			return ctx.call<Caller, object>("users.resolve", { id: verified.sub, claims: verified.claims });
		},

		/**
		 * The `auth` rule itself is enforced by middlewares/authorization.middleware.ts; refusing here
		 * too answers an anonymous caller 401 before the action validates its params (422).
		 */
		async authorize(ctx: Context<unknown, { user?: unknown }>, _route: unknown, req: GatewayRequest) {
			if (req.$action?.auth === "required" && !ctx.meta.user) throw noToken();
		},
	},

	created() {
		const { config } = this.settings;
		this.settings.ip = config.host;
		this.settings.port = config.port;
		this.routesReady = false;
		this.verifyToken = createTokenVerifier(config);
		this.rateLimitRedis = config.redisUrl ? rateLimitRedis(config.redisUrl) : undefined;
		const deps = { config, redis: this.rateLimitRedis, logger: this.logger, verifyToken: this.verifyToken, bodyParsers: API_BODY_PARSERS };
		for (const budget of Object.keys(BUDGET_METHODS) as Budget[]) this.addRoute(budgetRoute(budget, deps));
	},

	async stopped() {
		await this.rateLimitRedis?.quit().catch(() => this.rateLimitRedis?.disconnect());
	},
};

export default ApiService;
