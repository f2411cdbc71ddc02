import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceBroker } from "moleculer";
import { connect } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { mintDevToken } from "../../lib/auth.ts";
import { domainEvent, type DomainEvent } from "../../lib/events.ts";
import type { CreatedEndpoint } from "../../services/outbound/contract.ts";
import { jetStreamNames } from "../../services/outbound/jetstream.ts";
import { AS_OPERATOR, startTestEngine, testEnv, uniqueNamespace, waitFor, TEST_DEV_SECRET, TEST_NATS_URL } from "../helpers/engine.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../helpers/process.ts";
import { startOwnNats } from "../helpers/servers.ts";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.ts";

/** Short retries so a test sees several attempts: every 2 s, six times. */
const SCHEDULE = "2,2,2,2,2,2";

function alertEvent(n: number): DomainEvent {
	const data = { fenceId: "alr_1", kind: "vendor_nearby", userId: "user_ann", vendorId: `ven_${n}`, transition: "enter", distance: 100 };
	return domainEvent("location.proximity_alert", data, { userId: "user_ann", vendorId: `ven_${n}` }, { source: "geo@test" });
}

/** Starts the sender process and waits until it is ready; the same env restarts it on the same data. */
async function startSender(env: Record<string, string>): Promise<NodeProcess> {
	const proc = spawnNode("server.ts", env);
	await waitForHttp(`http://127.0.0.1:${env.PORT}/health/ready`, 30_000).catch(err => {
		throw new Error(`the sender did not start: ${err.message}\n${proc.output()}`);
	});
	return proc;
}

/**
 * The receiver is down (500) while events come in; the sender is killed (SIGKILL) after it tried
 * each at least once, the receiver comes back, the sender is started again on the same data: every
 * event arrives, verified with svix, exactly once with a 2xx.
 */
async function expectEachDeliveredOnce(receiver: Receiver, ids: () => string[]) {
	await waitFor(() => new Set(receiver.delivered()).size === ids().length, { timeout: 40_000, what: "every delivery after the restart" });
	// Nothing more comes for a while: a delivered one is not sent again.
	await new Promise(r => setTimeout(r, 3_000));
	expect(receiver.delivered().sort()).toEqual(ids().sort());
	expect(receiver.received.every(r => r.verified)).toBe(true);
}

describe("a restart of the webhook sender mid-retry loses nothing", () => {
	const dirs: string[] = [];
	const procs: NodeProcess[] = [];
	const dataDir = () => {
		const dir = mkdtempSync(join(tmpdir(), "venta-outbound-"));
		dirs.push(dir);
		return dir;
	};
	afterAll(async () => {
		await Promise.all(procs.map(p => p.kill("SIGKILL")));
		for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
	});

	it("JetStream: the durable consumer hands the unacked deliveries to the restarted sender", { timeout: 90_000 }, async () => {
		const namespace = uniqueNamespace("outbound");
		const env = await testEnv({
			NATS_URL: TEST_NATS_URL,
			NAMESPACE: namespace,
			SERVICES: "outbound",
			DATA_DIR: dataDir(),
			OUTBOUND_RETRY_SCHEDULE_S: SCHEDULE,
		});
		const emitter = new ServiceBroker({
			namespace,
			nodeID: `${namespace}-emitter`,
			transporter: { type: "NATS", options: { url: TEST_NATS_URL } },
			logger: false,
		});
		let secret = "";
		const receiver = await startReceiver(() => secret);
		try {
			procs.push(await startSender(env));
			await emitter.start();
			await emitter.waitForServices("outbound", 10_000);
			const endpoint = await emitter.call<CreatedEndpoint, object>(
				"outbound.createEndpoint",
				{ url: receiver.url, events: ["location.proximity_alert"] },
				AS_OPERATOR
			);
			secret = endpoint.secret;
			receiver.answer(500);
			for (let n = 0; n < 3; n++) await emitter.emit("location.proximity_alert", alertEvent(n));
			const tried = () => [...new Set(receiver.received.map(r => r.id))];
			await waitFor(() => tried().length === 3, { timeout: 15_000, what: "a first attempt of each" });

			await procs.pop()!.kill("SIGKILL");
			receiver.answer(200);
			procs.push(await startSender(env));
			await expectEachDeliveredOnce(receiver, tried);
		} finally {
			await emitter.stop();
			await receiver.close();
			const nc = await connect({ servers: TEST_NATS_URL });
			const jsm = await nc.jetstreamManager();
			const names = jetStreamNames(namespace);
			for (const stream of [names.stream, names.deadStream]) await jsm.streams.delete(stream).catch(() => false);
			await nc.close();
		}
	});

	it("embedded: the outbox under DATA_DIR is scanned when the sender starts again", { timeout: 90_000 }, async () => {
		const dir = dataDir();
		let secret = "";
		const receiver = await startReceiver(() => secret);
		try {
			// The endpoint is created by an engine on the same data (the REST route is admin-only; an operator's call is simpler here).
			const setup = await startTestEngine({ DATA_DIR: dir, SERVICES: "users,outbound" });
			const endpoint = await setup.broker.call<CreatedEndpoint, object>(
				"outbound.createEndpoint",
				{ url: receiver.url, events: ["marketplace.user_updated"] },
				AS_OPERATOR
			);
			secret = endpoint.secret;
			await setup.stop();

			const env = await testEnv({ DATA_DIR: dir, SERVICES: "api,users,outbound", OUTBOUND_RETRY_SCHEDULE_S: SCHEDULE });
			procs.push(await startSender(env));
			receiver.answer(500);
			const token = await mintDevToken(TEST_DEV_SECRET, "user_ann");
			for (const firstName of ["Ann", "Anna"]) {
				const res = await fetch(`http://127.0.0.1:${env.PORT}/api/me`, {
					method: "PATCH",
					headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
					body: JSON.stringify({ firstName }),
				});
				expect(res.status).toBe(200);
			}
			const tried = () => [...new Set(receiver.received.map(r => r.id))];
			await waitFor(() => tried().length === 2, { timeout: 15_000, what: "a first attempt of each" });

			await procs.pop()!.kill("SIGKILL");
			receiver.answer(200);
			procs.push(await startSender(env));
			await expectEachDeliveredOnce(receiver, tried);
		} finally {
			await receiver.close();
		}
	});
});

describe("the outbound role on a NATS without JetStream", () => {
	it("refuses to start, saying what it needs", async () => {
		const nats = await startOwnNats();
		try {
			await expect(startTestEngine({ NATS_URL: nats.url, SERVICES: "outbound" })).rejects.toThrow(
				/The outbound role needs JetStream on NATS_URL \(nats-server -js\)/
			);
		} finally {
			await nats.stop();
		}
	});
});
