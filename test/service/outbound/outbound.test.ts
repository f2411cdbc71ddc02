import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Context, ServiceSchema } from "moleculer";
import { emitDomainEvent } from "../../../lib/events.ts";
import { operatorCaller } from "../../../lib/identity.ts";
import { Output, runCommand } from "../../../scripts/repl/cli.ts";
import { REPL_COMMANDS } from "../../../scripts/repl/commands.ts";
import type { AlertFired } from "../../../services/alerts/contract.ts";
import type { CreatedEndpoint, Delivery } from "../../../services/outbound/contract.ts";
import { connect, type JetStreamManager } from "nats";
import { jetStreamNames } from "../../../services/outbound/jetstream.ts";
import { AS_OPERATOR, startTestEngine, TEST_NATS_URL, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { waitForRoutes } from "../../helpers/live.ts";
import { freePort } from "../../helpers/ports.ts";
import { restClient } from "../../helpers/rest.ts";
import { startReceiver, type Receiver } from "../../helpers/webhook-receiver.ts";

const ALERT: AlertFired = {
	fenceId: "al_1",
	kind: "vendor_nearby",
	userId: "user_ann",
	vendorId: "v_taco",
	transition: "enter",
	distance: 420,
	position: { lat: 52.52, lng: 13.405, ts: Date.now() },
};

/** Emits the alert events as the geo evaluator does (vendor_nearby → proximity_alert, else geofence_triggered), without depending on it. */
const FIXTURE: ServiceSchema = {
	name: "alert-fixture",
	actions: {
		fire: {
			handler(ctx: Context<AlertFired>) {
				const name = ctx.params.kind === "vendor_nearby" ? "location.proximity_alert" : "location.geofence_triggered";
				return emitDomainEvent(this, ctx, name, ctx.params, { userId: "user_ann" });
			},
		},
	},
};

/** Deletes a test's JetStream streams from the shared NATS server. */
async function withStreams<T>(
	namespace: string,
	use: (jsm: JetStreamManager, names: ReturnType<typeof jetStreamNames>) => Promise<T>
): Promise<T> {
	const nc = await connect({ servers: TEST_NATS_URL });
	try {
		return await use(await nc.jetstreamManager(), jetStreamNames(namespace));
	} finally {
		await nc.close();
	}
}
const deleteStreams = (namespace: string) =>
	withStreams(namespace, async (jsm, names) => {
		for (const stream of [names.stream, names.deadStream]) await jsm.streams.delete(stream).catch(() => false);
	});

describe.each([
	["the embedded outbox", {}],
	["JetStream", { NATS_URL: TEST_NATS_URL }],
])("outbound webhooks through %s", (_mode, env: Record<string, string>) => {
	let engine: TestEngine;
	let api: ReturnType<typeof restClient>;
	let admin: string;
	let receiver: Receiver;
	let secret = "";
	beforeAll(async () => {
		engine = await startTestEngine({ OUTBOUND_RETRY_SCHEDULE_S: "1,1", ...env }, [FIXTURE]);
		api = restClient(engine.baseUrl);
		await waitForRoutes(engine.baseUrl);
		admin = await engine.token("root");
		await api.get("/api/me", admin);
		await engine.broker.call("users.setRole", { id: "root", role: "admin" }, AS_OPERATOR);
		receiver = await startReceiver(() => secret);
	});
	afterAll(async () => {
		await engine.stop();
		await receiver.close();
		if (env.NATS_URL) await deleteStreams(engine.config.namespace);
	});

	/** Runs a REPL command as an operator against this engine; answers what it printed. */
	const repl = async (name: string, args: string[] = [], options: Record<string, string | boolean> = {}) => {
		const lines: string[] = [];
		const spec = REPL_COMMANDS.find(c => c.command.split(" ")[0] === name)!;
		expect(
			await runCommand(spec, engine.broker, { args, options, operator: operatorCaller("tester") }, new Output(null, t => lines.push(t)))
		).toBe(true);
		return lines.join("\n");
	};
	const deliveries = (params: object = {}) => engine.broker.call<Delivery[], object>("outbound.deliveries", params, AS_OPERATOR);

	it("endpoints are admin-only: anonymous 401, a customer 403; bad URLs and unknown events 422, nothing stored", async () => {
		const body = { url: "https://hooks.example.com/venta", events: ["location.proximity_alert"] };
		expect((await api.post("/api/admin/webhook-endpoints", body)).status).toBe(401);
		const customer = await engine.token("ivy");
		expect((await api.post("/api/admin/webhook-endpoints", body, customer)).status).toBe(403);
		expect((await api.get("/api/admin/webhook-endpoints", customer)).status).toBe(403);
		expect((await api.get("/api/admin/webhook-endpoints")).status).toBe(401);
		for (const url of [
			"ftp://hooks.example.com/x",
			"not a url",
			"/relative",
			"https://user:pw@hooks.example.com/",
			`https://x.example.com/${"a".repeat(2100)}`,
		]) {
			const res = await api.post("/api/admin/webhook-endpoints", { ...body, url }, admin);
			expect(res.status, url).toBe(422);
		}
		expect((await api.post("/api/admin/webhook-endpoints", { ...body, events: ["location.nope"] }, admin)).status).toBe(422);
		expect((await api.post("/api/admin/webhook-endpoints", { ...body, events: [] }, admin)).status).toBe(422);
		expect((await api.post("/api/admin/webhook-endpoints", { ...body, secret: "hunter2" }, admin)).status).toBe(422);
		expect((await api.get("/api/admin/webhook-endpoints", admin)).body).toEqual({ rows: [], total: 0 });
	});

	it("signs each event with the endpoint's secret (svix verifies it), retries a failing receiver, dead-letters after the last retry, and replays", async () => {
		const created = await api.post<CreatedEndpoint>(
			"/api/admin/webhook-endpoints",
			{ url: receiver.url, events: ["location.proximity_alert"] },
			admin
		);
		expect(created.status).toBe(201);
		expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
		secret = created.body.secret;
		const listed = await api.get("/api/admin/webhook-endpoints", admin);
		expect(listed.body.rows).toEqual([{ ...created.body, secret: undefined }].map(({ secret: _s, ...rest }) => rest));
		expect(JSON.stringify(listed.body)).not.toContain(secret);
		const hooks = await repl("hooks");
		expect(hooks).toContain(created.body.id);
		expect(hooks).not.toContain(secret);

		// Healthy receiver: one delivery, verified, the envelope as body.
		await engine.broker.call("alert-fixture.fire", ALERT);
		await waitFor(() => receiver.delivered().length === 1, { what: "the first delivery" });
		const first = receiver.received[0]!;
		expect(first.verified).toBe(true);
		const payload = JSON.parse(first.body);
		expect(payload).toMatchObject({ type: "location.proximity_alert", data: ALERT, context: { userId: "user_ann" } });
		expect(first.id).toMatch(/^msg_/);

		// Down for good: 1 + 2 retries (schedule 1,1), then dead.
		receiver.answer(500);
		await engine.broker.call("alert-fixture.fire", { ...ALERT, transition: "exit" });
		const dead = await waitFor(async () => (await deliveries({ status: "dead" }))[0], { timeout: 15_000, what: "the dead delivery" });
		expect(dead).toMatchObject({ attempts: 3, lastStatus: 500, endpointId: created.body.id, event: "location.proximity_alert" });
		expect(dead.lastError!.length).toBeLessThanOrEqual(220);
		const tries = receiver.received.filter(r => r.id === dead.id);
		expect(tries).toHaveLength(3);
		expect(tries.every(t => t.verified)).toBe(true);
		expect(tries[2]!.headers["webhook-timestamp"]).not.toBe(tries[0]!.headers["webhook-timestamp"]);
		if (env.NATS_URL) {
			const deadLetters = await withStreams(
				engine.config.namespace,
				async (jsm, names) => (await jsm.streams.info(names.deadStream)).state.messages
			);
			expect(deadLetters).toBe(1);
		}

		// Up again: the operator replays it, same webhook-id, delivered once.
		receiver.answer(200);
		expect(await repl("deliveries", [], { dead: true })).toContain(dead.id);
		expect(await repl("deliveries", [], { failed: true })).toBe("No deliveries.");
		expect(await repl("deliveries", ["replay", dead.id])).toBe(`Replayed 1: ${dead.id}`);
		await waitFor(async () => (await deliveries({ status: "delivered" })).length === 2, { what: "the replayed delivery" });
		expect(receiver.delivered().sort()).toEqual([first.id, dead.id].sort());
		await expect(engine.broker.call("outbound.replay", { id: dead.id })).rejects.toMatchObject({ code: 401 });
		await expect(engine.broker.call("outbound.replay", { id: dead.id }, AS_OPERATOR)).rejects.toMatchObject({ code: 404 });

		const metrics = await (await fetch(`${engine.baseUrl}/metrics`)).text();
		expect(metrics).toMatch(
			new RegExp(`venta_outbound_deliveries_total\\{[^}]*endpoint="${created.body.id}"[^}]*outcome="dead"[^}]*\\} 1`)
		);
		expect(metrics).toMatch(/venta_outbound_delivery_lag_seconds_bucket\{[^}]*le="\+Inf"\} 2/);
	});

	it("retries a receiver that is down (no answer: status null), and dead-letters what is still queued for an endpoint an admin disabled", async () => {
		const down = `http://127.0.0.1:${await freePort()}/hooks`;
		const created = await api.post<CreatedEndpoint>(
			"/api/admin/webhook-endpoints",
			{ url: down, events: ["location.geofence_triggered"] },
			admin
		);
		await engine.broker.call("alert-fixture.fire", { ...ALERT, kind: "area" });
		const mine = async () => (await deliveries({ endpointId: created.body.id }))[0];
		const retrying = await waitFor(async () => ((await mine())?.status === "retrying" ? mine() : undefined), {
			what: "a retrying delivery",
		});
		expect(retrying).toMatchObject({ lastStatus: null, event: "location.geofence_triggered" });
		expect(retrying!.lastError).toMatch(/ECONNREFUSED/);
		expect(retrying!.nextAttemptAt).not.toBeNull();

		const disabled = await api.patch(`/api/admin/webhook-endpoints/${created.body.id}`, { enabled: false }, admin);
		expect(disabled.body).toMatchObject({ id: created.body.id, enabled: false });
		const dead = await waitFor(async () => ((await mine())?.status === "dead" ? mine() : undefined), { what: "the dead delivery" });
		expect(dead).toMatchObject({ lastError: "endpoint disabled", nextAttemptAt: null });
		expect((await api.del(`/api/admin/webhook-endpoints/${created.body.id}`, admin)).body).toEqual({ id: created.body.id, deleted: true });
		expect((await api.del(`/api/admin/webhook-endpoints/${created.body.id}`, admin)).status).toBe(404);
	});
});
