import { z } from "zod";
import { resolveDevSecret } from "./dev-secret.ts";
import { redisUrl } from "./redis-url.ts";
import { boolean, commaList, integer, optionalString, positive, retrySchedule, urlListWithScheme, urlWithScheme } from "./parsers.ts";

/** Everything a process can run, by the name `SERVICES` uses. */
export const ROLE_NAMES = ["users", "vendors", "discovery", "geo", "webhooks", "outbound", "alerts", "api", "live"] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where spans go: nowhere, the log, or a Zipkin v2 endpoint (Zipkin, Jaeger, OpenTelemetry collectors take it). */
export const TRACING_EXPORTERS = ["off", "console", "zipkin"] as const;
export type TracingExporter = (typeof TRACING_EXPORTERS)[number];

export type Config = {
	nodeEnv: string;
	production: boolean;
	nodeId: string | undefined;
	namespace: string;
	natsUrl: string | undefined;
	redisUrl: string | undefined;
	mongoUrl: string | undefined;
	services: RoleName[];
	/** Address both gateways bind (127.0.0.1 unless set; the image sets 0.0.0.0). */
	host: string;
	port: number;
	livePort: number;
	h3Res: number;
	logLevel: LogLevel;
	logPretty: boolean;
	clerkJwtKey: string | undefined;
	clerkAuthorizedParties: string[];
	/** When set, a Clerk token's `iss` must equal it. */
	clerkIssuer: string | undefined;
	/** Seconds a live socket may stay open after its token expired, waiting for `{"op":"auth"}`. */
	authGraceS: number;
	clerkWebhookSecret: string | undefined;
	revenuecatWebhookAuth: string | undefined;
	/** HS256 key for local tokens: AUTH_DEV_SECRET, or the generated one under DATA_DIR. */
	devSecret: string | undefined;
	dataDir: string;
	requireSubscription: boolean;
	positionMaxHz: number;
	vendorOfflineAfterS: number;
	watchMaxCells: number;
	/** A live socket's budget for ops other than `pos`, in cost units per second (a watch costs 1 + cells/100); bursts of twice that. */
	liveOpsPerS: number;
	/** Open live sockets (and upgrades under way) allowed per client address. */
	liveMaxSocketsPerIp: number;
	/** Coalescing window of the live fan-out in ms (latest per vendor, published together); 0 = off. */
	liveFlushMs: number;
	/** The request header a trusted proxy puts the client address in (lower case); unset: the peer address. */
	clientIpHeader: string | undefined;
	mapTilesUrl: string | undefined;
	/** Credentials and TLS for every NATS connection of the node (transporter and live routing). */
	nats: NatsSecurity;
	/** REST requests per minute: reads per caller (user, else address), writes per caller. */
	rateLimit: { readsPerMin: number; writesPerMin: number };
	/** When set, `/metrics` (both ports) requires `Authorization: Bearer <it>`. */
	metricsToken: string | undefined;
	/** Moleculer's tracer: the exporter, the Zipkin base URL (spans go to `<endpoint>/api/v2/spans`), the share of traces kept. */
	tracing: { exporter: TracingExporter; endpoint: string; sampleRate: number };
	/** Outbound webhooks: seconds before each retry after a failed attempt (its length is the number of retries), and each attempt's timeout. */
	outbound: { retryScheduleS: number[]; timeoutMs: number };
	/**
	 * Demand signals: counts of watchers below `minCount` are hidden from vendors (heatmap,
	 * suggestions, interest frames); `floorHz` is the rate suggested to a vendor nobody watches.
	 */
	demand: { minCount: number; floorHz: number };
};

/** Files that secure a NATS connection; user/password or a token may also be in NATS_URL. */
export type NatsSecurity = {
	credsFile: string | undefined;
	tls: { ca: string | undefined; cert: string | undefined; key: string | undefined } | undefined;
};

/** A bad environment: the message is one line naming each offending variable. */
export class ConfigError extends Error {
	override name = "ConfigError";
}

const envSchema = z.object({
	NODE_ENV: optionalString.transform(v => v ?? "development"),
	NODE_ID: optionalString.refine(v => v === undefined || /^[\w.-]{1,64}$/.test(v), "letters, digits, '.', '-' and '_' only (at most 64)"),
	NAMESPACE: optionalString
		.transform(v => v ?? "venta")
		.refine(v => /^[\w.-]{1,64}$/.test(v), "letters, digits, '.', '-' and '_' only (at most 64)"),
	NATS_URL: urlListWithScheme(["nats", "tls"]),
	REDIS_URL: redisUrl,
	MONGO_URL: urlWithScheme(["mongodb", "mongodb+srv"]),
	SERVICES: commaList.transform((names, ctx) => {
		if (names.length === 0) return [...ROLE_NAMES];
		const unknown = names.filter(n => !(ROLE_NAMES as readonly string[]).includes(n));
		if (unknown.length > 0) {
			ctx.addIssue({ code: "custom", message: `unknown name(s) ${unknown.join(", ")}; known: ${ROLE_NAMES.join(", ")}` });
			return z.NEVER;
		}
		return [...new Set(names)] as RoleName[];
	}),
	HOST: optionalString
		.transform(v => v ?? "127.0.0.1")
		.refine(v => /^[\w.:-]{1,255}$/.test(v), "must be an address such as 127.0.0.1, 0.0.0.0 or ::"),
	PORT: integer(3000, 1, 65535),
	LIVE_PORT: integer(3001, 1, 65535),
	H3_RES: integer(8, 0, 15),
	LOG_LEVEL: optionalString
		.transform(v => (v ?? "info").toLowerCase())
		.refine(v => (LOG_LEVELS as readonly string[]).includes(v), `must be one of ${LOG_LEVELS.join(", ")}`),
	LOG_PRETTY: boolean,
	CLERK_JWT_KEY: optionalString
		.transform(v => v?.replace(/\\n/g, "\n"))
		.refine(
			v => v === undefined || /-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----/.test(v),
			"must be a PEM public key (-----BEGIN PUBLIC KEY----- …)"
		),
	CLERK_AUTHORIZED_PARTIES: commaList.refine(
		list => list.every(o => /^https?:\/\/[^/\s]+$/.test(o)),
		"must be a comma list of origins such as https://app.example.com"
	),
	CLERK_ISSUER: urlWithScheme(["https", "http"]),
	AUTH_GRACE_S: integer(30, 0, 3_600),
	CLERK_WEBHOOK_SECRET: optionalString.refine(
		v => v === undefined || /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(v),
		"must look like whsec_<base64>"
	),
	REVENUECAT_WEBHOOK_AUTH: optionalString,
	AUTH_DEV_SECRET: optionalString.refine(v => v === undefined || v.length >= 32, "must be at least 32 characters"),
	DATA_DIR: optionalString.transform(v => v ?? "./data"),
	REQUIRE_SUBSCRIPTION: boolean,
	POSITION_MAX_HZ: positive(5, 100),
	VENDOR_OFFLINE_AFTER_S: positive(60, 86_400),
	WATCH_MAX_CELLS: integer(2000, 1, 100_000),
	LIVE_OPS_PER_S: positive(100, 1_000_000),
	LIVE_MAX_SOCKETS_PER_IP: integer(256, 1, 1_000_000),
	LIVE_FLUSH_MS: integer(0, 0, 1_000),
	CLIENT_IP_HEADER: optionalString
		.transform(v => v?.toLowerCase())
		.refine(v => v === undefined || /^[a-z0-9-]{1,64}$/.test(v), "must be a header name such as x-forwarded-for"),
	MAP_TILES_URL: urlWithScheme(["http", "https"]),
	NATS_CREDS_FILE: optionalString,
	NATS_TLS_CA: optionalString,
	NATS_TLS_CERT: optionalString,
	NATS_TLS_KEY: optionalString,
	NATS_ALLOW_NO_AUTH: boolean,
	RATE_LIMIT_READS_PER_MIN: integer(600, 1, 1_000_000),
	RATE_LIMIT_WRITES_PER_MIN: integer(120, 1, 1_000_000),
	METRICS_TOKEN: optionalString.refine(v => v === undefined || v.length >= 16, "must be at least 16 characters"),
	TRACING: optionalString
		.transform(v => (v ?? "off").toLowerCase())
		.refine(v => (TRACING_EXPORTERS as readonly string[]).includes(v), `must be one of ${TRACING_EXPORTERS.join(", ")}`),
	TRACING_ENDPOINT: urlWithScheme(["http", "https"]).transform(v => (v ?? "http://localhost:9411").replace(/\/+$/, "")),
	TRACING_SAMPLE_RATE: positive(1, 1),
	OUTBOUND_RETRY_SCHEDULE_S: retrySchedule,
	OUTBOUND_TIMEOUT_MS: integer(10_000, 100, 60_000),
	DEMAND_MIN_COUNT: integer(3, 1, 1_000),
	// Unset: 0.1 Hz, raised to keep two positions per VENDOR_OFFLINE_AFTER_S (see loadConfig).
	INTEREST_FLOOR_HZ: positive(undefined, 100),
});

/** Whether a NATS URL carries credentials itself (`nats://user:pass@…` or `nats://token@…`); of a list, the first does (they apply to every server). */
export const natsUrlHasCredentials = (url: string) => new URL(url.split(",")[0]!.trim()).username !== "";

/** Every environment variable the engine reads. */
export const ENV_VARIABLES = Object.keys(envSchema.shape) as (keyof typeof envSchema.shape)[];

/** Settings that are each valid but unsafe or incomplete together; production is strict. */
function refuseUnsafeCombinations(e: z.infer<typeof envSchema>, production: boolean): void {
	if (production && e.AUTH_DEV_SECRET) {
		throw new ConfigError("Invalid configuration: AUTH_DEV_SECRET is refused when NODE_ENV=production (dev tokens are for local use only)");
	}
	const verifiesTokens = e.SERVICES.includes("api") || e.SERVICES.includes("live");
	if (production && verifiesTokens && !e.CLERK_JWT_KEY) {
		throw new ConfigError(
			"Invalid configuration: CLERK_JWT_KEY is required when NODE_ENV=production (the api and live gateways verify tokens with it)"
		);
	}
	const floor = e.INTEREST_FLOOR_HZ;
	if (floor !== undefined && (floor > e.POSITION_MAX_HZ || floor * e.VENDOR_OFFLINE_AFTER_S < 2)) {
		throw new ConfigError(
			"Invalid configuration: INTEREST_FLOOR_HZ must be at most POSITION_MAX_HZ and give at least two positions per VENDOR_OFFLINE_AFTER_S (a vendor nobody watches must not go offline)"
		);
	}
	if (e.NATS_TLS_CERT !== undefined && e.NATS_TLS_KEY === undefined) {
		throw new ConfigError("Invalid configuration: NATS_TLS_CERT needs NATS_TLS_KEY (a client certificate comes with its key)");
	}
	if (production && e.NATS_URL && !natsUrlHasCredentials(e.NATS_URL) && !e.NATS_CREDS_FILE && !e.NATS_TLS_CERT && !e.NATS_ALLOW_NO_AUTH) {
		throw new ConfigError(
			"Invalid configuration: NATS_URL has no credentials with NODE_ENV=production (anyone who reaches NATS could join the mesh): put user:password or a token in NATS_URL, set NATS_CREDS_FILE or a client certificate, or NATS_ALLOW_NO_AUTH=true if the network is secured otherwise"
		);
	}
}

/** The rate suggested to an unwatched vendor when INTEREST_FLOOR_HZ is unset: 0.1 Hz, or what keeps two positions per offline window. */
const defaultFloorHz = (maxHz: number, offlineAfterS: number): number => Math.min(maxHz, Math.max(0.1, 2 / offlineAfterS));

/** Reads and validates the environment once; throws ConfigError with one line on bad input. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
	const parsed = envSchema.safeParse(env);
	if (!parsed.success) {
		const problems = parsed.error.issues.map(i => `${String(i.path[0])} ${i.message}`);
		throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
	}
	const e = parsed.data;
	const production = e.NODE_ENV === "production";
	refuseUnsafeCombinations(e, production);
	const devSecret = production ? undefined : (e.AUTH_DEV_SECRET ?? (e.CLERK_JWT_KEY ? undefined : resolveDevSecret(e.DATA_DIR)));
	return {
		nodeEnv: e.NODE_ENV,
		production,
		nodeId: e.NODE_ID,
		namespace: e.NAMESPACE,
		natsUrl: e.NATS_URL,
		redisUrl: e.REDIS_URL,
		mongoUrl: e.MONGO_URL,
		services: e.SERVICES,
		host: e.HOST,
		port: e.PORT,
		livePort: e.LIVE_PORT,
		h3Res: e.H3_RES,
		logLevel: e.LOG_LEVEL as LogLevel,
		logPretty: e.LOG_PRETTY,
		clerkJwtKey: e.CLERK_JWT_KEY,
		clerkAuthorizedParties: e.CLERK_AUTHORIZED_PARTIES,
		clerkIssuer: e.CLERK_ISSUER,
		authGraceS: e.AUTH_GRACE_S,
		clerkWebhookSecret: e.CLERK_WEBHOOK_SECRET,
		revenuecatWebhookAuth: e.REVENUECAT_WEBHOOK_AUTH,
		devSecret,
		dataDir: e.DATA_DIR,
		requireSubscription: e.REQUIRE_SUBSCRIPTION,
		positionMaxHz: e.POSITION_MAX_HZ,
		vendorOfflineAfterS: e.VENDOR_OFFLINE_AFTER_S,
		watchMaxCells: e.WATCH_MAX_CELLS,
		liveOpsPerS: e.LIVE_OPS_PER_S,
		liveMaxSocketsPerIp: e.LIVE_MAX_SOCKETS_PER_IP,
		liveFlushMs: e.LIVE_FLUSH_MS,
		clientIpHeader: e.CLIENT_IP_HEADER,
		mapTilesUrl: e.MAP_TILES_URL,
		nats: {
			credsFile: e.NATS_CREDS_FILE,
			tls:
				e.NATS_TLS_CA || e.NATS_TLS_CERT || e.NATS_URL?.split(",").some(u => u.trim().startsWith("tls://"))
					? { ca: e.NATS_TLS_CA, cert: e.NATS_TLS_CERT, key: e.NATS_TLS_KEY }
					: undefined,
		},
		rateLimit: { readsPerMin: e.RATE_LIMIT_READS_PER_MIN, writesPerMin: e.RATE_LIMIT_WRITES_PER_MIN },
		metricsToken: e.METRICS_TOKEN,
		tracing: { exporter: e.TRACING as TracingExporter, endpoint: e.TRACING_ENDPOINT, sampleRate: e.TRACING_SAMPLE_RATE },
		outbound: { retryScheduleS: e.OUTBOUND_RETRY_SCHEDULE_S, timeoutMs: e.OUTBOUND_TIMEOUT_MS },
		demand: { minCount: e.DEMAND_MIN_COUNT, floorHz: e.INTEREST_FLOOR_HZ ?? defaultFloorHz(e.POSITION_MAX_HZ, e.VENDOR_OFFLINE_AFTER_S) },
	};
}

/** True when data lives in memory only (`DATA_DIR=:memory:`). */
export function isMemoryDataDir(config: Pick<Config, "dataDir">): boolean {
	return config.dataDir === ":memory:";
}
