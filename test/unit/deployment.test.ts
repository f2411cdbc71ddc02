import { readFileSync, existsSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ENV_VARIABLES, ROLE_NAMES, loadConfig } from "../../config/index.ts";
import { ROOT } from "../helpers/process.ts";

type ComposeService = {
	image?: string;
	build?: unknown;
	environment?: Record<string, string | number | boolean>;
	ports?: string[];
	command?: unknown;
};
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
	services: Record<string, ComposeService>;
};
const engineServices = Object.entries(compose.services).filter(([, s]) => s.image === "venta-engine");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

/** `${VAR:-default}` → default, as docker compose does with VAR unset. */
const interpolate = (value: string) => value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name, fallback) => fallback ?? "");

describe("docker-compose.yml against the code", () => {
	it("runs every role of the engine somewhere, with the infrastructure it names", () => {
		const roles = new Set(engineServices.flatMap(([, s]) => String(s.environment?.SERVICES ?? "").split(",")));
		expect([...roles].sort()).toEqual([...ROLE_NAMES].sort());
		expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["nats", "redis", "mongo"]));
		expect(engineServices.filter(([, s]) => s.environment?.SERVICES === "live")).toHaveLength(2);
	});

	it("sets only variables the engine reads, and each role's configuration is valid", () => {
		const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
		const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
		for (const [name, service] of engineServices) {
			const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
			for (const key of Object.keys(env)) expect(ENV_VARIABLES, `${name}: ${key}`).toContain(key);
			const withSecrets = { ...env, CLERK_JWT_KEY: pem, AUTH_DEV_SECRET: "" };
			expect(() => loadConfig(withSecrets), name).not.toThrow();
			// Production refuses to start a gateway without the Clerk key: compose must pass it through.
			if ("CLERK_JWT_KEY" in env) expect(() => loadConfig(env), name).toThrow(/CLERK_JWT_KEY/);
		}
	});

	it("publishes the ports the gateways listen on", () => {
		for (const [name, service] of engineServices) {
			const config = loadConfig({
				...Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))])),
				NODE_ENV: "development",
				DATA_DIR: ":memory:",
			});
			const containerPorts = (service.ports ?? []).map(p => Number(p.split(":").pop()));
			if (config.services.includes("api")) expect(containerPorts, name).toContain(config.port);
			if (config.services.includes("live")) expect(containerPorts, name).toContain(config.livePort);
			if (containerPorts.length > 0) expect(dockerfile).toMatch(new RegExp(`EXPOSE .*\\b${containerPorts[0]}\\b`));
		}
	});
});

describe("Dockerfile against the code", () => {
	it("uses Node 22 on Debian slim, runs as a non-root user, and starts server.ts", () => {
		expect(dockerfile).toMatch(/^FROM node:22-[a-z]+-slim/m);
		expect(dockerfile).toMatch(/^USER node$/m);
		expect(dockerfile).toMatch(/--omit=dev/);
		expect(dockerfile).toMatch(/^CMD \["node", "server.ts"\]$/m);
	});

	it("copies every source folder the engine imports", () => {
		const copied = [...dockerfile.matchAll(/^COPY --from=build \/app\/(\S+) /gm)].map(m => m[1]!.replace(/\/$/, ""));
		for (const folder of ["config", "lib", "runtime", "middlewares", "mixins", "services", "gateways"]) {
			if (existsSync(join(ROOT, folder))) expect(copied).toContain(folder);
		}
		expect(dockerfile).toMatch(/server\.ts/);
		expect(dockerfile).toMatch(/moleculer\.config\.ts/);
	});
});

describe(".dockerignore against the build", () => {
	it("keeps the host's node_modules, data, git history, test output and profiles out of the build context", () => {
		const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
			.split("\n")
			.map(l => l.trim())
			.filter(l => l && !l.startsWith("#"));
		for (const entry of ["node_modules", "data", ".git", "test-output", "*.cpuprofile", "bench/profiles"]) expect(ignored).toContain(entry);
		// What the image copies must not be ignored.
		for (const folder of ["config", "lib", "runtime", "middlewares", "mixins", "services", "gateways", "scripts", "web/src"])
			expect(ignored).not.toContain(folder);
	});
});
