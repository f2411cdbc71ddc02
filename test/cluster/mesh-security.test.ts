import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceBroker } from "moleculer";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsConnectionOptions } from "../../runtime/nats.ts";
import { startTestEngine, uniqueNamespace, waitFor, type TestEngine } from "../helpers/engine.ts";
import { waitForHttp } from "../helpers/process.ts";
import { startOwnNats, type OwnServer } from "../helpers/servers.ts";

const PASSWORD = "mesh-test-password-0123456789";
const NO_SECURITY = { credsFile: undefined, tls: undefined };

/** A bare broker of the mesh: no engine service, no identity of its own, as an intruder would bring. */
async function bareBroker(namespace: string, url: string, security = NO_SECURITY): Promise<ServiceBroker> {
	const broker = new ServiceBroker({
		namespace,
		nodeID: `bare-${Math.random().toString(36).slice(2, 8)}`,
		transporter: { type: "NATS", options: { ...natsConnectionOptions(url, security), maxReconnectAttempts: 0 } },
		logger: false,
	});
	await broker.start();
	return broker;
}

/**
 * The trust boundary of the mesh, on a nats-server the test starts with a password: without
 * the credentials nothing connects; with them, privileged actions still need an operator or
 * admin identity in the call.
 */
describe("the mesh trusts no stranger", () => {
	let nats: OwnServer;
	let engine: TestEngine;
	let namespace: string;
	let url: string;
	let userId: string;
	const brokers: ServiceBroker[] = [];

	beforeAll(async () => {
		nats = await startOwnNats(["--user", "venta", "--pass", PASSWORD]);
		url = `nats://venta:${PASSWORD}@127.0.0.1:${nats.port}`;
		namespace = uniqueNamespace("mesh-sec");
		engine = await startTestEngine({ NAMESPACE: namespace, NATS_URL: url, SERVICES: "api,users,vendors,live" });
		userId = "user_mesh_target";
		const token = await engine.token(userId);
		// The first signed-in request creates the user (once the gateway's routes are built).
		await waitFor(async () => (await fetch(`${engine.baseUrl}/api/me`, { headers: { Authorization: `Bearer ${token}` } })).status === 200, {
			what: "the user created through REST",
		});
	});
	afterAll(async () => {
		await Promise.all(brokers.map(b => b.stop()));
		await engine?.stop();
		await nats?.stop();
	});

	it("lets no connection in without the credentials, or with a wrong password", async () => {
		const base = `nats://127.0.0.1:${nats.port}`;
		await expect(connect({ ...natsConnectionOptions(base, NO_SECURITY), maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
		const wrong = `nats://venta:not-the-password@127.0.0.1:${nats.port}`;
		await expect(connect({ ...natsConnectionOptions(wrong, NO_SECURITY), maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
		// The engine itself is in: its readiness checks a NATS round trip.
		expect(((await (await fetch(`${engine.baseUrl}/health/ready`)).json()) as { checks: { transporter: string } }).checks.transporter).toBe(
			"ok"
		);
	});

	it("refuses a privileged call that carries no operator or admin identity, whoever sends it", async () => {
		const insider = await bareBroker(namespace, url);
		brokers.push(insider);
		await insider.waitForServices(["users", "live"], 10_000);
		await expect(insider.call("users.setRole", { id: userId, role: "admin" })).rejects.toMatchObject({ code: 401, type: "NO_TOKEN" });
		const customer = { id: "user_mesh_customer", role: "customer" };
		await expect(insider.call("users.setRole", { id: userId, role: "admin" }, { meta: { user: customer } })).rejects.toMatchObject({
			code: 403,
		});
		await expect(insider.call("users.upsertFromClerk", { id: userId, role: "admin" })).rejects.toMatchObject({ code: 401 });
		await expect(insider.call("live.kick", { vendorId: "ven_anything" })).rejects.toMatchObject({ code: 401 });
		expect((await engine.broker.call<{ role: string }, { id: string }>("users.get", { id: userId })).role).toBe("customer");

		const operator = { id: "repl:mesh-test", role: "admin" };
		const changed = await insider.call<{ role: string }, object>(
			"users.setRole",
			{ id: userId, role: "vendor" },
			{ meta: { user: operator } }
		);
		expect(changed.role).toBe("vendor");
	});
});

const hasOpenssl = (() => {
	try {
		execFileSync("openssl", ["version"], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
})();
if (!hasOpenssl) console.log("skipped: NATS TLS test needs openssl to make its certificates");

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
	const file = (name: string) => join(dir, name);
	const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
	openssl(
		"req",
		"-x509",
		"-newkey",
		"rsa:2048",
		"-nodes",
		"-keyout",
		file("ca.key"),
		"-out",
		file("ca.pem"),
		"-days",
		"1",
		"-subj",
		"/CN=venta-test-ca"
	);
	openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=127.0.0.1");
	// nats.js checks 127.0.0.1 under the name "localhost".
	writeFileSync(file("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
	openssl(
		"x509",
		"-req",
		"-in",
		file("server.csr"),
		"-CA",
		file("ca.pem"),
		"-CAkey",
		file("ca.key"),
		"-CAcreateserial",
		"-out",
		file("server.pem"),
		"-days",
		"1",
		"-extfile",
		file("san.ext")
	);
	return { ca: file("ca.pem"), cert: file("server.pem"), key: file("server.key") };
}

describe.skipIf(!hasOpenssl)("NATS over TLS", () => {
	let dir: string;
	let nats: OwnServer;
	let certs: { ca: string; cert: string; key: string };

	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), "venta-nats-tls-"));
		certs = makeCertificates(dir);
		nats = await startOwnNats(["--tls", "--tlscert", certs.cert, "--tlskey", certs.key, "--user", "venta", "--pass", PASSWORD]);
	});
	afterAll(async () => {
		await nats?.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	it("joins with NATS_TLS_CA and the credentials; refuses a server it cannot verify", async () => {
		const url = `tls://venta:${PASSWORD}@127.0.0.1:${nats.port}`;
		const unverified = { credsFile: undefined, tls: { ca: undefined, cert: undefined, key: undefined } };
		await expect(connect({ ...natsConnectionOptions(url, unverified), maxReconnectAttempts: 0, timeout: 5_000 })).rejects.toThrow(
			/certificate/
		);
		const engine = await startTestEngine({
			NAMESPACE: uniqueNamespace("mesh-tls"),
			NATS_URL: url,
			NATS_TLS_CA: certs.ca,
			SERVICES: "api,users,live",
		});
		try {
			const ready = (await (await waitForHttp(`${engine.baseUrl}/health/ready`)).json()) as {
				ready: boolean;
				checks: Record<string, string>;
			};
			expect(ready.checks.transporter).toBe("ok");
			expect(ready.checks.live).toBe("ok");
		} finally {
			await engine.stop();
		}
	});
});
