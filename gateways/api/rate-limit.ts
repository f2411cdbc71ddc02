import type { IncomingMessage, ServerResponse } from "node:http";
import ApiGateway from "moleculer-web";
import type { Config } from "../../config/index.ts";
import { bearerToken, type TokenVerifier, type VerifiedToken } from "../../lib/auth.ts";
import { clientAddress } from "../../lib/client-address.ts";
import { errorBody, rateLimited, type ErrorBody } from "../../lib/errors.ts";
import { RedisRateLimitStore } from "../../runtime/rate-limit-store.ts";
import type { RedisClient } from "../../runtime/redis.ts";

/**
 * REST rate limits with moleculer-web's limiter, which counts per route and runs before
 * `authenticate`. So `/api` is two routes, reads and writes, each with its own limit, and each
 * verifies the bearer token in a route middleware first: the limiter's key is the verified
 * user (a forged token counts against its address), and `authenticate` uses that outcome.
 */

/** The HTTP methods of each budget; each is an `/api` route of its own. */
export const BUDGET_METHODS = {
	reads: ["GET"],
	writes: ["POST", "PUT", "PATCH", "DELETE"],
} as const;
export type Budget = keyof typeof BUDGET_METHODS;

/** The limits are per minute. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** The headers a browser may read from an answer (CORS `exposedHeaders`). */
export const RATE_LIMIT_HEADERS = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"];

/** An `/api` request: the outcome of verifying its bearer token, set before the limiter runs. */
export type BearerRequest = IncomingMessage & { $bearer?: VerifiedToken | Error };

/** What moleculer-web keeps of a route and of an alias (the parts used here). */
export type GatewayRoute = { opts: { aliasMethods?: readonly string[] } };
export type GatewayAlias = { route: GatewayRoute; method: string };

type Logger = { warn(obj: object, msg: string): void };

/** Route middleware (runs before the limiter): verifies the bearer token, if any, into `req.$bearer`. */
function verifyBearerFirst(verifyToken: TokenVerifier) {
	return (req: BearerRequest, _res: ServerResponse, next: () => void): void => {
		const token = bearerToken(req.headers.authorization);
		if (!token) {
			next();
			return;
		}
		void verifyToken(token)
			.catch((err: Error) => err)
			.then(outcome => {
				req.$bearer = outcome;
				next();
			});
	};
}

/** Whose budget a request counts against: the verified user, else the client address. */
function callerKey(clientIpHeader: string | undefined) {
	return (req: BearerRequest): string => {
		const bearer = req.$bearer;
		if (bearer && !(bearer instanceof Error)) return `user:${bearer.sub}`;
		const forwarded = clientIpHeader ? req.headers[clientIpHeader] : undefined;
		return `ip:${clientAddress(Array.isArray(forwarded) ? forwarded.join(",") : forwarded, req.socket.remoteAddress)}`;
	};
}

/**
 * moleculer-web's `rateLimit` options of one budget. With Redis the counters are shared by every
 * API replica (keys under the NAMESPACE); without, moleculer-web's MemoryStore counts per process.
 */
function rateLimitOptions(budget: Budget, config: Config, redis: RedisClient | undefined, logger: Logger) {
	return {
		window: RATE_LIMIT_WINDOW_MS,
		limit: budget === "reads" ? config.rateLimit.readsPerMin : config.rateLimit.writesPerMin,
		headers: true,
		key: callerKey(config.clientIpHeader),
		...(redis ? { StoreFactory: RedisRateLimitStore, redis, prefix: `${config.namespace}:rate-limit:${budget}:`, logger } : {}),
	};
}

/**
 * moleculer-web writes `X-Rate-Limit-*` (the reset as epoch ms); the answer carries the standard
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) instead.
 * Returns the seconds to the reset, or undefined on a request the limiter did not count.
 */
function writeRateLimitHeaders(res: ServerResponse): number | undefined {
	const reset = res.getHeader("X-Rate-Limit-Reset");
	if (reset === undefined) return undefined;
	const resetInS = Math.max(1, Math.ceil((Number(reset) - Date.now()) / 1000));
	res.setHeader("RateLimit-Limit", String(res.getHeader("X-Rate-Limit-Limit")));
	res.setHeader("RateLimit-Remaining", String(res.getHeader("X-Rate-Limit-Remaining")));
	res.setHeader("RateLimit-Reset", String(resetInS));
	for (const name of ["X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"]) res.removeHeader(name);
	return resetInS;
}

/**
 * For an error answer: the rate-limit headers written and, when it is the limiter's refusal, its
 * 429 body (with `Retry-After`); undefined for any other error.
 */
export function rateLimitRefusal(err: unknown, res: ServerResponse): ErrorBody | undefined {
	const resetInS = writeRateLimitHeaders(res);
	if (!(err instanceof ApiGateway.Errors.RateLimitExceeded) || resetInS === undefined) return undefined;
	res.setHeader("Retry-After", String(resetInS));
	return errorBody(rateLimited(`Too many requests; retry in ${resetInS} s`));
}

/** The `/api` aliases of `route`'s budget: moleculer-web generates every alias on every auto-alias route. */
export function budgetAliases<A extends GatewayAlias>(aliases: A[], route: GatewayRoute): A[] {
	const methods = route.opts.aliasMethods;
	return methods ? aliases.filter(alias => alias.route !== route || methods.includes(alias.method)) : aliases;
}

export type BudgetRouteDeps = {
	config: Config;
	/** Counters in Redis (REDIS_URL), else in memory. */
	redis: RedisClient | undefined;
	logger: Logger;
	verifyToken: TokenVerifier;
	bodyParsers: object;
};

/** The `/api` route of one budget: the REST aliases of its methods, limited per caller. */
export function budgetRoute(budget: Budget, deps: BudgetRouteDeps) {
	return {
		name: `api-${budget}`,
		path: "/api",
		aliasMethods: BUDGET_METHODS[budget],
		authentication: true,
		authorization: true,
		autoAliases: true,
		mappingPolicy: "restrict",
		bodyParsers: deps.bodyParsers,
		use: [verifyBearerFirst(deps.verifyToken)],
		rateLimit: rateLimitOptions(budget, deps.config, deps.redis, deps.logger),
		// Runs right after the limiter let the request through.
		onBeforeCall(_ctx: unknown, _route: unknown, _req: unknown, res: ServerResponse) {
			writeRateLimitHeaders(res);
		},
	};
}
