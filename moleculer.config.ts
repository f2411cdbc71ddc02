import type { BrokerOptions, Errors } from "moleculer";
import type { Config } from "./config/index.ts";
import { ScrapeReporter } from "./runtime/metrics.ts";
import { natsConnectionOptions } from "./runtime/nats.ts";
import { tracingOptions } from "./runtime/tracing.ts";
import { cacherConnection, FailSoftRedisCacher } from "./runtime/redis.ts";
import { ParamsValidator } from "./runtime/validator.ts";
import { AuthorizationMiddleware } from "./middlewares/authorization.middleware.ts";
import { MeshMiddleware } from "./middlewares/mesh.middleware.ts";

/** Server-side faults are worth retrying or tripping a breaker on; client mistakes are not. */
const isServerFault = (err: Errors.MoleculerError | Error): boolean => {
	const code = (err as Errors.MoleculerError).code;
	return typeof code !== "number" || code >= 500;
};

/**
 * Broker options for one process. Fault tolerance is Moleculer's own, tuned here once:
 * callers see a timeout after 10 s, retryable errors are retried with backoff, a node
 * failing half of its calls is avoided for a while, and each action limits concurrency.
 */
export function createBrokerOptions(config: Config): BrokerOptions {
	return {
		namespace: config.namespace,
		nodeID: config.nodeId ?? null,

		logger: {
			type: "Pino",
			options: {
				level: config.logLevel,
				pino: {
					options: {
						base: null,
						timestamp: () => `,"time":"${new Date().toISOString()}"`,
						...(config.logPretty ? { transport: { target: "pino-pretty", options: { colorize: true } } } : {}),
					},
				},
			},
		},

		// Credentials and TLS as configured; reconnect within a quarter second of NATS coming back
		// (cross-node delivery resumes with it).
		transporter: config.natsUrl
			? {
					type: "NATS",
					options: { ...natsConnectionOptions(config.natsUrl, config.nats), maxReconnectAttempts: -1, reconnectTimeWait: 250 },
				}
			: null,
		cacher: config.redisUrl
			? // Moleculer's typings omit the cacher's `cluster` option.
				new FailSoftRedisCacher({
					prefix: `${config.namespace}-cache`,
					ttl: 60,
					...(cacherConnection(config.redisUrl) as { redis: object }),
				})
			: { type: "Memory", options: { ttl: 60, maxParamsLength: 200 } },

		// A silent node leaves the registry after 6 s; a dead replica's traffic moves sooner
		// through short timeouts on the hot paths, retries and the breaker.
		heartbeatInterval: 2,
		heartbeatTimeout: 6,

		requestTimeout: 10_000,
		retryPolicy: {
			enabled: true,
			retries: 3,
			delay: 100,
			maxDelay: 1_000,
			factor: 2,
			check: err => Boolean((err as Errors.MoleculerRetryableError).retryable),
		},
		circuitBreaker: {
			enabled: true,
			threshold: 0.5,
			minRequestCount: 10,
			windowTime: 30,
			halfOpenTime: 10_000,
			check: isServerFault,
		},
		bulkhead: { enabled: true, concurrency: 64, maxQueueSize: 1_000 },
		// Shutdown waits for in-flight calls (within the 10 s the process allows itself).
		tracking: { enabled: true, shutdownTimeout: 7_000 },

		registry: { strategy: "RoundRobin", preferLocal: true },

		// Moleculer takes a reporter instance at run time; its typings name only the built-in kinds.
		metrics: { enabled: true, reporter: [new ScrapeReporter({}) as unknown as "Prometheus"] },
		// TRACING: off by default; spans of one request share its request id as their trace id.
		tracing: tracingOptions(config),

		// Optional params are not nullable unless a rule says so (null would otherwise be stored).
		validator: new ParamsValidator(),

		// `auth`, `roles` and `owns` action properties, enforced for calls from any gateway or node;
		// calls to other nodes fail fast while NATS is down.
		middlewares: [AuthorizationMiddleware, MeshMiddleware()],

		// server.ts owns the signals so that it can bound the drain and choose the exit code.
		skipProcessEventRegistration: true,
	};
}
