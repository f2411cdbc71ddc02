import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../config/index.ts";

const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PEM = publicKey.export({ type: "spki", format: "pem" }).toString();
/** A production node of the REST gateway, as far as the checks care. */
const production = (env: Record<string, string>) =>
	loadConfig({ NODE_ENV: "production", CLERK_JWT_KEY: PEM, DATA_DIR: ":memory:", ...env });

describe("configuration", () => {
	it("suggests 0.1 Hz to an unwatched vendor unless that would let it go offline; a floor set so is refused", () => {
		const floor = (env: Record<string, string>) => loadConfig({ DATA_DIR: ":memory:", ...env }).demand.floorHz;
		expect(floor({})).toBe(0.1);
		expect(floor({ VENDOR_OFFLINE_AFTER_S: "2" })).toBe(1);
		expect(floor({ VENDOR_OFFLINE_AFTER_S: "0.2", POSITION_MAX_HZ: "5" })).toBe(5);
		expect(floor({ INTEREST_FLOOR_HZ: "0.5" })).toBe(0.5);
		expect(() => floor({ INTEREST_FLOOR_HZ: "0.5", VENDOR_OFFLINE_AFTER_S: "2" })).toThrow(/INTEREST_FLOOR_HZ must be at most/);
		expect(() => floor({ INTEREST_FLOOR_HZ: "6" })).toThrow(/INTEREST_FLOOR_HZ must be at most POSITION_MAX_HZ/);
	});

	it("binds 127.0.0.1 unless HOST says otherwise", () => {
		expect(loadConfig({ DATA_DIR: ":memory:" }).host).toBe("127.0.0.1");
		expect(loadConfig({ DATA_DIR: ":memory:", HOST: "0.0.0.0" }).host).toBe("0.0.0.0");
		expect(() => loadConfig({ DATA_DIR: ":memory:", HOST: "not an address" })).toThrow(/HOST must be an address/);
	});

	it("refuses a NATS URL without credentials in production, unless the operator says the network is secured", () => {
		expect(() => production({ NATS_URL: "nats://nats:4222" })).toThrow(ConfigError);
		expect(() => production({ NATS_URL: "nats://nats:4222" })).toThrow(/NATS_URL has no credentials/);
		expect(production({ NATS_URL: "nats://nats:4222", NATS_ALLOW_NO_AUTH: "true" }).natsUrl).toBe("nats://nats:4222");
		expect(production({ NATS_URL: "nats://venta:secret@nats:4222" }).natsUrl).toBe("nats://venta:secret@nats:4222");
		expect(production({ NATS_URL: "nats://s3cr3t-token@nats:4222" }).natsUrl).toBeDefined();
		expect(production({ NATS_URL: "nats://nats:4222", NATS_CREDS_FILE: "/run/secrets/nats.creds" }).nats.credsFile).toBe(
			"/run/secrets/nats.creds"
		);
		// Outside production a local NATS without credentials is fine.
		expect(loadConfig({ DATA_DIR: ":memory:", NATS_URL: "nats://127.0.0.1:4222" }).nats).toEqual({ credsFile: undefined, tls: undefined });
	});

	it("takes a NATS cluster as a comma list: each entry a nats:// or tls:// URL, credentials from the first", () => {
		const cluster = "nats://venta:secret@n1:4222, nats://n2:4222,nats://n3:4222";
		expect(production({ NATS_URL: cluster }).natsUrl).toBe(cluster);
		expect(() => production({ NATS_URL: "nats://n1:4222,nats://venta:secret@n2:4222" })).toThrow(/NATS_URL has no credentials/);
		expect(() => loadConfig({ DATA_DIR: ":memory:", NATS_URL: "nats://n1:4222,n2:4222" })).toThrow(
			/NATS_URL must be a URL starting with nats:\/\/ or tls:\/\/, or a comma list of such URLs/
		);
		expect(() => loadConfig({ DATA_DIR: ":memory:", NATS_URL: "nats://n1:4222,redis://n2:4222" })).toThrow(ConfigError);
		expect(() => loadConfig({ DATA_DIR: ":memory:", NATS_URL: "nats://n1:4222,," })).toThrow(ConfigError);
		expect(loadConfig({ DATA_DIR: ":memory:", NATS_URL: "nats://n1:4222,tls://n2:4222" }).nats.tls).toBeDefined();
	});

	it("takes TLS from tls:// or the NATS_TLS_* files, and a client certificate only with its key", () => {
		expect(loadConfig({ DATA_DIR: ":memory:", NATS_URL: "tls://nats:4222" }).nats.tls).toEqual({
			ca: undefined,
			cert: undefined,
			key: undefined,
		});
		expect(loadConfig({ DATA_DIR: ":memory:", NATS_URL: "nats://nats:4222", NATS_TLS_CA: "/ca.pem" }).nats.tls).toMatchObject({
			ca: "/ca.pem",
		});
		expect(() => loadConfig({ DATA_DIR: ":memory:", NATS_URL: "nats://nats:4222", NATS_TLS_CERT: "/c.pem" })).toThrow(
			/NATS_TLS_CERT needs NATS_TLS_KEY/
		);
	});

	it("reads the auth grace, the issuer, the rate limits and the metrics token", () => {
		const config = loadConfig({
			DATA_DIR: ":memory:",
			AUTH_GRACE_S: "5",
			CLERK_ISSUER: "https://clerk.example.com",
			RATE_LIMIT_READS_PER_MIN: "60",
			RATE_LIMIT_WRITES_PER_MIN: "10",
			METRICS_TOKEN: "m".repeat(16),
		});
		expect(config).toMatchObject({
			authGraceS: 5,
			clerkIssuer: "https://clerk.example.com",
			rateLimit: { readsPerMin: 60, writesPerMin: 10 },
			metricsToken: "m".repeat(16),
		});
		expect(loadConfig({ DATA_DIR: ":memory:" })).toMatchObject({ authGraceS: 30, rateLimit: { readsPerMin: 600, writesPerMin: 120 } });
		expect(() => loadConfig({ DATA_DIR: ":memory:", METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN must be at least 16/);
	});
});
