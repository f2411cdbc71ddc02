import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, TEST_DEV_SECRET, type TestEngine } from "../../helpers/engine.ts";
import { restClient, waitForMarketplaceRoutes } from "../../helpers/rest.ts";

const run = promisify(execFile);
const APP = "https://app.example";
/** The engine's CLERK_ISSUER; RS256 tokens carry it unless a case says otherwise. */
const ISSUER = "https://clerk.app.example";

/** Claims in Clerk's v2 shape; `iss: null` leaves the issuer out. */
type Claims = { sub?: string; azp?: string; exp?: number | string; nbf?: number; iss?: string | null; sts?: string; v?: number };

function sign(key: CryptoKey | Uint8Array, alg: "RS256" | "HS256", claims: Claims = {}): Promise<string> {
	const { azp, sts, v } = claims;
	const jwt = new SignJWT({ ...(azp ? { azp } : {}), ...(sts ? { sts, v: v ?? 2 } : {}) })
		.setProtectedHeader({ alg, typ: "JWT" })
		.setIssuedAt();
	const iss = claims.iss === undefined ? (alg === "RS256" ? ISSUER : null) : claims.iss;
	if (iss) jwt.setIssuer(iss);
	if (claims.sub !== undefined) jwt.setSubject(claims.sub);
	if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
	if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
	return jwt.sign(key);
}

/** What `npm run token -- --sub <id>` prints last (npm prints its own banner first). */
async function npmToken(sub: string, env: Record<string, string | undefined>): Promise<string> {
	const merged = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined));
	const { stdout } = await run("npm", ["run", "token", "--", "--sub", sub], { env: merged, cwd: process.cwd() });
	return stdout.trim().split("\n").at(-1)!;
}

describe("session tokens at the REST gateway", () => {
	let clerk: { privateKey: CryptoKey; publicKey: CryptoKey };
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	const now = () => Math.floor(Date.now() / 1000);
	const me = async (token: string) => api.get("/api/me", token);

	beforeAll(async () => {
		clerk = await generateKeyPair("RS256", { extractable: true });
		engine = await startTestEngine({
			SERVICES: "api,users,vendors",
			CLERK_JWT_KEY: await exportSPKI(clerk.publicKey),
			CLERK_AUTHORIZED_PARTIES: `${APP},https://admin.example`,
			CLERK_ISSUER: ISSUER,
		});
		api = restClient(engine.baseUrl);
		await waitForMarketplaceRoutes(engine.baseUrl);
	});
	afterAll(() => engine?.stop());

	it("accepts a Clerk RS256 session token and creates the user on first use", async () => {
		const res = await me(await sign(clerk.privateKey, "RS256", { sub: "user_clerk_rs", azp: APP, exp: now() + 60 }));
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ id: "user_clerk_rs", role: "customer" });
		expect((await me(await sign(clerk.privateKey, "RS256", { sub: "user_clerk_noazp", exp: now() + 60 }))).status).toBe(200);
		const active = await sign(clerk.privateKey, "RS256", { sub: "user_clerk_v2", azp: APP, exp: now() + 60, sts: "active" });
		expect((await me(active)).status).toBe(200);
	});

	it("refuses RS256 tokens that are expired, not yet valid, from another origin or issuer, of a pending session, another key, or without exp/sub", async () => {
		const other = await generateKeyPair("RS256");
		const cases: [string, Claims, CryptoKey, string][] = [
			["expired", { sub: "user_x", azp: APP, exp: now() - 60 }, clerk.privateKey, "TOKEN_EXPIRED"],
			["not yet valid", { sub: "user_x", azp: APP, exp: now() + 600, nbf: now() + 300 }, clerk.privateKey, "INVALID_TOKEN"],
			["foreign azp", { sub: "user_x", azp: "https://evil.example", exp: now() + 60 }, clerk.privateKey, "INVALID_TOKEN"],
			["other key", { sub: "user_x", azp: APP, exp: now() + 60 }, other.privateKey, "INVALID_TOKEN"],
			["no exp", { sub: "user_x", azp: APP }, clerk.privateKey, "INVALID_TOKEN"],
			["no sub", { azp: APP, exp: now() + 60 }, clerk.privateKey, "INVALID_TOKEN"],
			["foreign iss", { sub: "user_x", azp: APP, exp: now() + 60, iss: "https://clerk.evil.example" }, clerk.privateKey, "INVALID_TOKEN"],
			["no iss", { sub: "user_x", azp: APP, exp: now() + 60, iss: null }, clerk.privateKey, "INVALID_TOKEN"],
			["pending session", { sub: "user_x", azp: APP, exp: now() + 60, sts: "pending" }, clerk.privateKey, "INVALID_TOKEN"],
		];
		for (const [label, claims, key, type] of cases) {
			const res = await me(await sign(key, "RS256", claims));
			expect(res.status, label).toBe(401);
			expect(res.body, label).toMatchObject({ code: 401, type });
		}
	});

	it("accepts HS256 dev tokens only with the dev secret; never alg none or the public key as an HMAC secret", async () => {
		expect((await me(await sign(new TextEncoder().encode(TEST_DEV_SECRET), "HS256", { sub: "user_dev", exp: now() + 60 }))).body.id).toBe(
			"user_dev"
		);
		const pem = new TextEncoder().encode(engine.config.clerkJwtKey!);
		const confused = await sign(pem, "HS256", { sub: "user_x", exp: now() + 60 });
		const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "user_x", exp: now() + 60 })).toString("base64url")}.`;
		for (const bad of [confused, none]) expect((await me(bad)).status).toBe(401);
	});

	it("accepts what `npm run token -- --sub user_1` prints", async () => {
		const token = await npmToken("user_1", { AUTH_DEV_SECRET: TEST_DEV_SECRET, CLERK_JWT_KEY: undefined, DATA_DIR: ":memory:" });
		expect(token.split(".")).toHaveLength(3);
		expect((await me(token)).body).toMatchObject({ id: "user_1" });
	});

	it("refuses HS256 dev tokens when only a Clerk key is configured", async () => {
		const clerkOnly = await startTestEngine({
			SERVICES: "api,users,vendors",
			AUTH_DEV_SECRET: undefined,
			CLERK_JWT_KEY: engine.config.clerkJwtKey,
		});
		try {
			await waitForMarketplaceRoutes(clerkOnly.baseUrl);
			const dev = await sign(new TextEncoder().encode(TEST_DEV_SECRET), "HS256", { sub: "user_dev", exp: now() + 60 });
			const res = await restClient(clerkOnly.baseUrl).get("/api/me", dev);
			expect(res.status).toBe(401);
			expect(res.body).toMatchObject({ type: "INVALID_TOKEN" });
		} finally {
			await clerkOnly.stop();
		}
	});

	it("answers 503, not 404, when no users service can resolve the caller", async () => {
		const noUsers = await startTestEngine({ SERVICES: "api,vendors" });
		try {
			await waitForMarketplaceRoutes(noUsers.baseUrl);
			const res = await restClient(noUsers.baseUrl).get("/api/vendors", await noUsers.token("user_1"));
			expect(res.status).toBe(503);
			expect(res.body).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });
		} finally {
			await noUsers.stop();
		}
	});

	it("works with no set-up: the generated dev secret under DATA_DIR signs `npm run token` output", async () => {
		const dataDir = await mkdtemp(join(tmpdir(), "venta-token-"));
		const zeroSetup = await startTestEngine({ SERVICES: "api,users,vendors", AUTH_DEV_SECRET: undefined, DATA_DIR: dataDir });
		try {
			await waitForMarketplaceRoutes(zeroSetup.baseUrl);
			const token = await npmToken("user_zero", { AUTH_DEV_SECRET: undefined, CLERK_JWT_KEY: undefined, DATA_DIR: dataDir });
			expect((await restClient(zeroSetup.baseUrl).get("/api/me", token)).body).toMatchObject({ id: "user_zero" });
		} finally {
			await zeroSetup.stop();
			await rm(dataDir, { recursive: true, force: true });
		}
	});
});
