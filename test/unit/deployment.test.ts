import { readFileSync, existsSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ENV_VARIABLES, ROLE_NAMES, loadConfig, type Config } from "../../config/index.ts";
import { ROOT } from "../helpers/process.ts";

type Healthcheck = { test?: string[]; interval?: string; timeout?: string };
type ComposeService = {
	image?: string;
	build?: unknown;
	environment?: Record<string, string | number | boolean>;
	ports?: string[];
	command?: string[];
	healthcheck?: Healthcheck;
	depends_on?: Record<string, { condition?: string }> | string[];
	profiles?: string[];
};
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
	services: Record<string, ComposeService>;
	"x-environment": Record<string, string>;
};
const engineServices = Object.entries(compose.services).filter(([, s]) => s.image === "venta-engine");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

/** What the required variables (`${VAR:?message}`) are set to here, as an operator must. */
const REQUIRED = { NATS_PASSWORD: "test-nats-password-0123" } as Record<string, string>;

/** Docker compose's interpolation with only REQUIRED set: `${VAR:-default}` → default, `${VAR:?message}` → REQUIRED[VAR]. */
const interpolate = (value: string) =>
	value.replace(/\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (_m, name: string, kind: string | undefined, rest: string | undefined) => {
		if (kind?.endsWith("?")) {
			if (!(name in REQUIRED)) throw new Error(`compose would refuse to start: ${name} (${rest})`);
			return REQUIRED[name]!;
		}
		return REQUIRED[name] ?? rest ?? "";
	});

/** The image's ENV lines (`ENV A=1 \ B=2`) as variables. */
const imageEnv: Record<string, string> = Object.fromEntries(
	[...dockerfile.replace(/\\\n/g, " ").matchAll(/^ENV (.+)$/gm)].flatMap(m =>
		m[1]!
			.trim()
			.split(/\s+/)
			.map(pair => pair.split("=", 2))
	)
);

/** A container's environment: the image's ENV, then the service's (interpolated). */
const containerEnv = (service: ComposeService): Record<string, string> => ({
	...imageEnv,
	...Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))])),
});

const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PEM = publicKey.export({ type: "spki", format: "pem" }).toString();
/** A role's configuration as the engine loads it in its container, with the Clerk key the operator passes. */
const roleConfig = (service: ComposeService): Config => loadConfig({ ...containerEnv(service), CLERK_JWT_KEY: PEM });

/** Set per node, not shared. */
const PER_NODE = ["NODE_ID", "SERVICES", "PORT", "LIVE_PORT", "HOST"];
/** Read by one role only: set where that role runs. Anything else read by several roles must be shared. */
const ROLE_ONLY: Record<string, string> = {
	MAP_TILES_URL: "api",
	RATE_LIMIT_READS_PER_MIN: "api",
	RATE_LIMIT_WRITES_PER_MIN: "api",
	CLERK_WEBHOOK_SECRET: "webhooks",
	REVENUECAT_WEBHOOK_AUTH: "webhooks",
	LIVE_OPS_PER_S: "live",
	LIVE_MAX_SOCKETS_PER_IP: "live",
	AUTH_GRACE_S: "live",
	INTEREST_FLOOR_HZ: "live",
	OUTBOUND_RETRY_SCHEDULE_S: "outbound",
	OUTBOUND_TIMEOUT_MS: "outbound",
};
/** Roles whose stores live in MongoDB when MONGO_URL is set. */
const MONGO_ROLES = ["users", "vendors", "webhooks", "alerts", "outbound"];

describe("docker-compose.yml against the code", () => {
	it("runs every role of the engine somewhere, with the infrastructure it names", () => {
		const roles = new Set(engineServices.flatMap(([, s]) => String(s.environment?.SERVICES ?? "").split(",")));
		expect([...roles].sort()).toEqual([...ROLE_NAMES].sort());
		expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["nats", "redis", "mongo"]));
		expect(engineServices.filter(([, s]) => s.environment?.SERVICES === "live")).toHaveLength(2);
	});

	it("gives every engine role the one shared environment, and adds only per-node and single-role settings", () => {
		const shared = compose["x-environment"];
		for (const key of ["NAMESPACE", "NATS_URL", "REDIS_URL", "MONGO_URL", "H3_RES", "POSITION_MAX_HZ", "VENDOR_OFFLINE_AFTER_S"])
			expect(Object.keys(shared)).toContain(key);
		for (const key of [
			"REQUIRE_SUBSCRIPTION",
			"CLERK_JWT_KEY",
			"CLERK_ISSUER",
			"CLERK_AUTHORIZED_PARTIES",
			"AUTH_DEV_SECRET",
			"METRICS_TOKEN",
		])
			expect(Object.keys(shared)).toContain(key);
		for (const [name, service] of engineServices) {
			const env = service.environment ?? {};
			for (const [key, value] of Object.entries(shared)) expect(env[key], `${name}: ${key}`).toBe(value);
			const roles = String(env.SERVICES).split(",");
			for (const key of Object.keys(env).filter(k => !(k in shared) && !PER_NODE.includes(k))) {
				expect(ROLE_ONLY[key], `${name}: ${key} is read by several roles; it belongs in x-environment`).toBeDefined();
				expect(roles, `${name}: ${key} is for ${ROLE_ONLY[key]}`).toContain(ROLE_ONLY[key]);
			}
		}
	});

	it("sets only variables the engine reads, and each role's configuration is valid in production", () => {
		for (const [name, service] of engineServices) {
			const env = containerEnv(service);
			for (const key of Object.keys(env)) expect(ENV_VARIABLES, `${name}: ${key}`).toContain(key);
			const config = roleConfig(service);
			expect(config.production, name).toBe(true);
			// Production refuses a gateway without the Clerk key: the operator must pass it through.
			if (config.services.includes("api") || config.services.includes("live")) expect(() => loadConfig(env), name).toThrow(/CLERK_JWT_KEY/);
		}
	});

	it("runs NATS with the credentials the engines connect with, and never publishes it", () => {
		const nats = compose.services.nats!;
		expect(nats.image).toMatch(/^nats:2\.10-alpine$/);
		expect(nats.ports ?? []).toEqual([]);
		const command = (nats.command ?? []).map(interpolate);
		const flag = (name: string) => command[command.indexOf(name) + 1];
		expect(command).toContain("--user");
		expect(command).toContain("--pass");
		// The password is one the operator must set: compose refuses to start without it.
		expect(nats.command?.[nats.command.indexOf("--pass") + 1]).toMatch(/^\$\{NATS_PASSWORD:\?[^}]+\}$/);
		for (const [name, service] of engineServices) {
			const url = new URL(roleConfig(service).natsUrl!);
			expect([url.hostname, url.port], name).toEqual(["nats", "4222"]);
			expect([decodeURIComponent(url.username), decodeURIComponent(url.password)], name).toEqual([flag("--user"), flag("--pass")]);
		}
	});

	it("publishes the gateways' ports and nothing else (optional profiles aside: test/unit/observe.test.ts)", () => {
		for (const [name, service] of Object.entries(compose.services).filter(([, s]) => !s.profiles)) {
			const containerPorts = (service.ports ?? []).map(p => Number(p.split(":").pop()));
			if (service.image !== "venta-engine") {
				expect(containerPorts, name).toEqual([]);
				continue;
			}
			const config = roleConfig(service);
			const gatewayPorts = [
				...(config.services.includes("api") ? [config.port] : []),
				...(config.services.includes("live") ? [config.livePort] : []),
			];
			expect(containerPorts.sort(), name).toEqual(gatewayPorts.sort());
			for (const port of containerPorts) expect(dockerfile).toMatch(new RegExp(`EXPOSE .*\\b${port}\\b`));
		}
	});

	it("has a healthcheck for every service: NATS's monitoring port, redis-cli, mongosh", () => {
		for (const [name, service] of Object.entries(compose.services)) expect(service.healthcheck?.test?.length, name).toBeGreaterThan(1);
		const nats = compose.services.nats!;
		const monitorPort = nats.command?.[nats.command.indexOf("-m") + 1];
		expect(nats.healthcheck?.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${monitorPort}/healthz`]);
		expect(compose.services.redis!.healthcheck?.test).toEqual(["CMD", "redis-cli", "ping"]);
		expect(compose.services.mongo!.healthcheck?.test).toEqual(["CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping')"]);
	});

	it("probes every engine role with the image's healthcheck, on the port the role serves", () => {
		const imageCheck = /^HEALTHCHECK .*CMD (\[.+\])$/m.exec(dockerfile)?.[1];
		for (const [name, service] of engineServices) {
			expect(service.healthcheck?.test, name).toEqual(["CMD", ...JSON.parse(imageCheck!)]);
			// scripts/healthcheck.ts probes the REST gateway's port, else the live gateway's, else PORT, where the
			// health server answers (test/service/health/health.test.ts runs it against each kind of node).
			const config = roleConfig(service);
			const probed = config.services.includes("live") && !config.services.includes("api") ? config.livePort : config.port;
			const published = (service.ports ?? []).map(p => Number(p.split(":").pop()));
			if (published.length > 0) expect(published, name).toContain(probed);
		}
	});

	it("starts every engine role only once the infrastructure it uses is healthy", () => {
		for (const [name, service] of engineServices) {
			const config = roleConfig(service);
			const needs = [config.natsUrl, config.redisUrl, config.services.some(r => MONGO_ROLES.includes(r)) ? config.mongoUrl : undefined]
				.filter((url): url is string => url !== undefined)
				.map(url => new URL(url).hostname);
			expect(Array.isArray(service.depends_on), `${name}: a list waits for start, not readiness`).toBe(false);
			const dependsOn = service.depends_on as Record<string, { condition?: string }>;
			expect(Object.keys(dependsOn).sort(), name).toEqual(needs.sort());
			for (const [dependency, { condition }] of Object.entries(dependsOn))
				expect(condition, `${name} → ${dependency}`).toBe("service_healthy");
		}
	});
});

/** The files `entry` loads at run time, following relative imports (static and dynamic), as paths from ROOT. */
function importedFiles(entry: string, seen = new Set<string>()): Set<string> {
	if (seen.has(entry)) return seen;
	seen.add(entry);
	const source = readFileSync(join(ROOT, entry), "utf8");
	for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+\.ts)"/g))
		importedFiles(relative(ROOT, join(ROOT, dirname(entry), specifier!)), seen);
	return seen;
}

describe("Dockerfile against the code", () => {
	it("uses Node 22 on Debian slim, runs as a non-root user, and starts server.ts", () => {
		expect(dockerfile).toMatch(/^FROM node:22-[a-z]+-slim/m);
		expect(dockerfile).toMatch(/^USER node$/m);
		expect(dockerfile).toMatch(/--omit=dev/);
		expect(dockerfile).toMatch(/^CMD \["node", "server.ts"\]$/m);
	});

	it("binds every interface and checks health with scripts/healthcheck.ts", () => {
		expect(imageEnv.HOST).toBe("0.0.0.0");
		expect(dockerfile).toMatch(/^HEALTHCHECK --interval=\d+s --timeout=\d+s .*CMD \["node", "scripts\/healthcheck\.ts"\]$/m);
	});

	it("copies every file the engine and the healthcheck load, and the map page", () => {
		const copied = [...dockerfile.matchAll(/^COPY --from=build (.+) \S+$/gm)].flatMap(m =>
			m[1]!.split(/\s+/).map(source => source.replace(/^\/app\//, "").replace(/\/$/, ""))
		);
		const needed = new Set([...importedFiles("server.ts"), ...importedFiles("scripts/healthcheck.ts")].map(file => file.split("/")[0]!));
		expect([...needed]).toEqual(
			expect.arrayContaining(["server.ts", "moleculer.config.ts", "config", "lib", "runtime", "services", "gateways"])
		);
		for (const entry of needed) expect(copied, entry).toContain(entry);
		expect(copied).toContain("web/dist");
		expect(copied).toContain("package.json");
	});
});

describe(".dockerignore against the build", () => {
	it("keeps the host's node_modules, data, git history, secrets, test output and profiles out of the build context", () => {
		const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
			.split("\n")
			.map(l => l.trim())
			.filter(l => l && !l.startsWith("#"));
		for (const entry of ["node_modules", "data", ".git", ".env", "test-output", "*.cpuprofile", "bench/profiles"])
			expect(ignored).toContain(entry);
		// What the image copies or builds from must not be ignored.
		for (const folder of ["config", "lib", "runtime", "middlewares", "mixins", "services", "gateways", "scripts", "web/src"]) {
			expect(ignored).not.toContain(folder);
			expect(existsSync(join(ROOT, folder)), folder).toBe(true);
		}
	});
});
