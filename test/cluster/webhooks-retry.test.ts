import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { AS_OPERATOR, startTestEngine, uniqueNamespace, waitFor, type TestEngine, TEST_NATS_URL as NATS_URL } from "../helpers/engine.ts";
import { eventRecorder } from "../helpers/event-recorder.ts";
import { clerkUserEvent, newWhsec, post, svixHeaders } from "../helpers/webhooks.ts";
import type { InboxEntry, InboxParams, ReplayParams } from "../../services/webhooks/contract.ts";

const newUserId = () => `user_${randomUUID().replace(/-/g, "").slice(0, 20)}`;

/**
 * The gateway and the webhooks service run on one node, users and vendors on another (real NATS,
 * data on disk). Stopping the second node makes applying fail for real; starting it again lets
 * the sender's retry, or a REPL replay, apply the recorded event once.
 */
describe("webhook delivery while users and vendors are down", () => {
	const secret = newWhsec();
	const namespace = uniqueNamespace("wh-retry");
	const dataDir = mkdtempSync(join(tmpdir(), "venta-wh-"));
	const recorder = eventRecorder(["marketplace.user_registered", "marketplace.user_updated", "marketplace.user_deleted"]);
	let edge: TestEngine;
	let store: TestEngine | undefined;
	let url: string;

	const startStore = async () => {
		store = await startTestEngine({ SERVICES: "users,vendors", NATS_URL, NAMESPACE: namespace, DATA_DIR: dataDir });
		await edge.broker.waitForServices(["users", "vendors"], 15_000);
	};
	const stopStore = async () => {
		const nodeID = store!.broker.nodeID;
		await store!.stop();
		store = undefined;
		await waitFor(() => !edge.broker.registry.hasService("users", nodeID), { what: "users to leave the registry" });
	};
	const entry = async (id: string): Promise<InboxEntry | undefined> =>
		(await edge.broker.call<InboxEntry[], InboxParams>("webhooks.inbox", { limit: 500 }, AS_OPERATOR)).find(e => e.id === id);
	const getUser = (id: string) => edge.broker.call<{ email: string | null; firstName: string | null }, { id: string }>("users.get", { id });

	beforeAll(async () => {
		edge = await startTestEngine({ SERVICES: "api,webhooks", NATS_URL, NAMESPACE: namespace, CLERK_WEBHOOK_SECRET: secret }, [
			recorder.schema,
		]);
		url = `${edge.baseUrl}/webhooks/clerk`;
		await startStore();
	});
	afterAll(async () => {
		await store?.stop();
		await edge?.stop();
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("answers 5xx while applying fails, applies the sender's retry once, and keeps the history", async () => {
		const userId = newUserId();
		const created = clerkUserEvent("user.created", { id: userId, email: "first@example.com" });
		expect((await post(url, created, svixHeaders(created, { secret }))).status).toBe(200);

		await stopStore();
		const updated = clerkUserEvent("user.updated", { id: userId, email: "second@example.com", firstName: "Retried" });
		const headers = svixHeaders(updated, { secret });
		const id = `clerk:${headers["svix-id"]}`;
		const failed = await post(url, updated, headers);
		expect(failed.status).toBe(503);
		expect(failed.json).toMatchObject({ type: "WEBHOOK_APPLY_FAILED", data: { id } });
		expect(await entry(id)).toMatchObject({ status: "failed", attempts: 1, payload: updated, history: [{ outcome: "failed" }] });
		expect((await entry(id))!.error).toMatch(/users/);

		await startStore();
		// Svix retries with the same id and signature (a fresh timestamp would be signed again; the id is what counts).
		const retried = await post(url, updated, headers);
		expect(retried.status).toBe(200);
		expect(retried.json).toMatchObject({ id, status: "applied", duplicate: false });
		expect(await getUser(userId)).toMatchObject({ email: "second@example.com", firstName: "Retried" });

		const again = await post(url, updated, svixHeaders(updated, { secret, id: headers["svix-id"] }));
		expect(again.json).toMatchObject({ status: "applied", duplicate: true });

		const recorded = await entry(id);
		expect(recorded).toMatchObject({ status: "applied", attempts: 2, error: null });
		expect(recorded!.history.map(h => h.outcome)).toEqual(["failed", "applied"]);
		await waitFor(() => recorder.named("marketplace.user_updated").find(e => e.context.userId === userId));
		await new Promise(r => setTimeout(r, 200));
		expect(recorder.named("marketplace.user_updated").filter(e => e.context.userId === userId)).toHaveLength(1);
	});

	it("lets the REPL replay a failed event; a later retry from the sender is a duplicate", async () => {
		const userId = newUserId();
		const created = clerkUserEvent("user.created", { id: userId });
		expect((await post(url, created, svixHeaders(created, { secret }))).status).toBe(200);

		await stopStore();
		const deleted = JSON.stringify({ object: "event", type: "user.deleted", data: { id: userId, deleted: true, object: "user" } });
		const headers = svixHeaders(deleted, { secret });
		const id = `clerk:${headers["svix-id"]}`;
		expect((await post(url, deleted, headers)).status).toBe(503);
		expect(await edge.broker.call("webhooks.inbox", { status: "failed" }, AS_OPERATOR)).toEqual([expect.objectContaining({ id })]);

		await startStore();
		const replayed = await edge.broker.call<InboxEntry, ReplayParams>("webhooks.replay", { id }, AS_OPERATOR);
		expect(replayed).toMatchObject({ id, status: "applied", attempts: 2 });
		await expect(getUser(userId)).rejects.toMatchObject({ type: "NOT_FOUND" });
		await waitFor(() => recorder.named("marketplace.user_deleted").find(e => e.context.userId === userId));

		// Replaying an applied event does nothing unless forced.
		expect(await edge.broker.call("webhooks.replay", { id }, AS_OPERATOR)).toMatchObject({ status: "applied", attempts: 2 });
		expect(await edge.broker.call("webhooks.replay", { id, force: true }, AS_OPERATOR)).toMatchObject({ status: "applied", attempts: 3 });

		const late = await post(url, deleted, headers);
		expect(late.json).toMatchObject({ status: "applied", duplicate: true });
		expect(recorder.named("marketplace.user_deleted").filter(e => e.context.userId === userId)).toHaveLength(1);

		await expect(edge.broker.call("webhooks.replay", { id: "clerk:msg_unknown" }, AS_OPERATOR)).rejects.toMatchObject({
			code: 404,
			type: "NOT_FOUND",
		});
	});
});
