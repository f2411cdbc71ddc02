import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { eventRecorder } from "../../helpers/event-recorder.ts";
import { clerkUserEvent, MONGO_URL, newWhsec, post, storeEnv, svixHeaders, type StoreKind } from "../../helpers/webhooks.ts";
import { WEBHOOK_CLOCK_SKEW_MS, type InboxEntry } from "../../../services/webhooks/contract.ts";

const newUserId = () => `user_${randomUUID().replace(/-/g, "").slice(0, 20)}`;

function clerkSuite(store: StoreKind) {
	const secret = newWhsec();
	const recorder = eventRecorder([
		"communication.webhook_received",
		"marketplace.user_registered",
		"marketplace.user_updated",
		"marketplace.user_deleted",
		"marketplace.vendor_status_changed",
	]);
	let engine: TestEngine;
	let url: string;

	const inbox = (): Promise<InboxEntry[]> => engine.broker.call("webhooks.inbox", { source: "clerk", limit: 500 }, AS_OPERATOR);
	type User = { id: string; email: string | null; firstName: string | null; role: string };
	/** The live user, or null when there is none (never created, or deleted). */
	const lookup = (id: string) =>
		engine.broker.call<User, { id: string }>("users.get", { id }).catch((err: { type?: string }) => {
			if (err.type === "NOT_FOUND") return null;
			throw err;
		});

	beforeAll(async () => {
		engine = await startTestEngine(
			{ SERVICES: "api,users,vendors,webhooks", CLERK_WEBHOOK_SECRET: secret, ...storeEnv(store, "wh-clerk") },
			[recorder.schema]
		);
		url = `${engine.baseUrl}/webhooks/clerk`;
		// moleculer-web builds the REST aliases shortly after the services appear.
		await waitFor(async () => (await fetch(`${engine.baseUrl}/api/vendors`)).status !== 404, { what: "REST aliases" });
	});
	afterAll(() => engine?.stop());

	it("applies a correctly signed user.created, records it and emits the domain events", async () => {
		const id = newUserId();
		const body = clerkUserEvent("user.created", { id, email: "ada@example.com", firstName: "Ada", lastName: "Lovelace" });
		const headers = svixHeaders(body, { secret });
		const res = await post(url, body, headers);
		expect(res.status).toBe(200);
		expect(res.json).toEqual({
			received: true,
			id: `clerk:${headers["svix-id"]}`,
			type: "user.created",
			status: "applied",
			reason: null,
			duplicate: false,
		});

		expect(await lookup(id)).toMatchObject({ id, email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", role: "customer" });
		const [entry] = (await inbox()).filter(e => e.eventId === headers["svix-id"]);
		expect(entry).toMatchObject({
			source: "clerk",
			type: "user.created",
			status: "applied",
			reason: null,
			attempts: 1,
			error: null,
			payload: body,
		});
		expect(entry!.history).toHaveLength(1);

		const received = await waitFor(() => recorder.named("communication.webhook_received").find(e => e.data.eventId === headers["svix-id"]));
		expect(received.meta).toMatchObject({ domain: "communication", subdomain: "webhook", version: 1 });
		expect(received.data).toEqual({
			id: `clerk:${headers["svix-id"]}`,
			source: "clerk",
			eventId: headers["svix-id"],
			type: "user.created",
		});
		await waitFor(() => recorder.named("marketplace.user_registered").find(e => e.context.userId === id));
	});

	it("applies user.updated: profile and the role from public_metadata", async () => {
		const id = newUserId();
		const created = clerkUserEvent("user.created", { id, email: "old@example.com" });
		expect((await post(url, created, svixHeaders(created, { secret }))).status).toBe(200);
		const updated = clerkUserEvent("user.updated", { id, email: "new@example.com", firstName: "Grace", role: "admin" });
		expect((await post(url, updated, svixHeaders(updated, { secret }))).status).toBe(200);
		expect(await lookup(id)).toMatchObject({ email: "new@example.com", firstName: "Grace", role: "admin" });
		await waitFor(() => recorder.named("marketplace.user_updated").find(e => e.context.userId === id));
	});

	it.each([
		// The older one comes last: it is stale.
		["the newer first", [3000, 2000], { status: "stale", reason: "older_than_current" }],
		// The older one was the newest when it arrived.
		["the older first", [2000, 3000], { status: "applied", reason: null }],
	] as const)("keeps the newer profile (by updated_at) when two user.updated arrive out of order: %s", async (_order, arrival, older) => {
		const id = newUserId();
		const created = clerkUserEvent("user.created", { id, email: "first@example.com", updatedAt: 1000 });
		expect((await post(url, created, svixHeaders(created, { secret }))).json.status).toBe("applied");
		const profiles = {
			2000: { email: "older@example.com", firstName: "Older" },
			3000: { email: "newer@example.com", firstName: "Newer" },
		};
		const delivered = new Map<number, { body: string; headers: Record<string, string>; json: any }>();
		for (const updatedAt of arrival) {
			const body = clerkUserEvent("user.updated", { id, ...profiles[updatedAt], updatedAt });
			const headers = svixHeaders(body, { secret });
			const res = await post(url, body, headers);
			expect(res.status).toBe(200);
			delivered.set(updatedAt, { body, headers, json: res.json });
		}

		expect(await lookup(id)).toMatchObject({ email: "newer@example.com", firstName: "Newer" });
		expect(delivered.get(3000)!.json).toMatchObject({ status: "applied", reason: null, duplicate: false });
		const late = delivered.get(2000)!;
		expect(late.json).toMatchObject({ type: "user.updated", ...older, duplicate: false });
		const entry = (await inbox()).find(e => e.eventId === late.headers["svix-id"]);
		expect(entry).toMatchObject({ ...older, result: { userId: id }, error: null });
		expect(entry!.history.map(h => h.outcome)).toEqual([older.status]);
		// Svix's retry of that delivery gets the same answer, as a duplicate.
		expect((await post(url, late.body, late.headers)).json).toMatchObject({ ...older, duplicate: true });
	});

	it("keeps the newest profile when several user.updated for one user are applied at once", async () => {
		const id = newUserId();
		const created = clerkUserEvent("user.created", { id, updatedAt: 1000 });
		expect((await post(url, created, svixHeaders(created, { secret }))).status).toBe(200);
		const bodies = [4000, 2000, 6000, 3000, 5000].map(updatedAt =>
			clerkUserEvent("user.updated", { id, firstName: `At${updatedAt}`, updatedAt })
		);
		const answers = await Promise.all(bodies.map(body => post(url, body, svixHeaders(body, { secret }))));
		expect(answers.map(a => a.status)).toEqual([200, 200, 200, 200, 200]);
		expect(await lookup(id)).toMatchObject({ firstName: "At6000" });
		// However they interleave, the newest one applied and nothing failed.
		expect(answers[2]!.json).toMatchObject({ status: "applied" });
		expect(answers.every(a => a.json.status === "applied" || a.json.reason === "older_than_current")).toBe(true);
	});

	it("ignores a user.updated dated beyond the clock skew, so that it cannot outrank the real ones", async () => {
		const id = newUserId();
		const created = clerkUserEvent("user.created", { id, email: "now@example.com" });
		expect((await post(url, created, svixHeaders(created, { secret }))).status).toBe(200);
		const future = clerkUserEvent("user.updated", {
			id,
			email: "future@example.com",
			updatedAt: Date.now() + WEBHOOK_CLOCK_SKEW_MS + 60_000,
		});
		const res = await post(url, future, svixHeaders(future, { secret }));
		expect(res.status).toBe(200);
		expect(res.json).toMatchObject({ status: "ignored", reason: "future_timestamp" });
		expect((await inbox()).find(e => e.id === res.json.id)).toMatchObject({ status: "ignored", reason: "future_timestamp", result: null });
		expect(await lookup(id)).toMatchObject({ email: "now@example.com" });

		const real = clerkUserEvent("user.updated", { id, email: "later@example.com" });
		expect((await post(url, real, svixHeaders(real, { secret }))).json).toMatchObject({ status: "applied" });
		expect(await lookup(id)).toMatchObject({ email: "later@example.com" });
	});

	it("refuses tampered bodies, wrong secrets, stale or future timestamps and missing headers with 401, applying nothing", async () => {
		const before = (await inbox()).length;
		const now = Math.floor(Date.now() / 1000);
		const attempts: [string, string, Record<string, string>][] = [];
		const add = (label: string, make: (body: string) => { body: string; headers: Record<string, string> }) => {
			const body = clerkUserEvent("user.created", { id: newUserId(), email: "mallory@example.com" });
			const made = make(body);
			attempts.push([label, made.body, made.headers]);
		};
		add("tampered", body => ({ body: body.replace("mallory@", "eve@"), headers: svixHeaders(body, { secret }) }));
		add("wrong secret", body => ({ body, headers: svixHeaders(body, { secret: newWhsec() }) }));
		add("stale", body => ({ body, headers: svixHeaders(body, { secret, timestamp: now - 6 * 60 }) }));
		add("future", body => ({ body, headers: svixHeaders(body, { secret, timestamp: now + 6 * 60 }) }));
		add("no signature", body => {
			const { "svix-signature": _s, ...headers } = svixHeaders(body, { secret });
			return { body, headers };
		});
		add("no headers", body => ({ body, headers: { "content-type": "application/json" } }));

		for (const [label, body, headers] of attempts) {
			const res = await post(url, body, headers);
			expect(res.status, label).toBe(401);
			expect(res.json.type, label).toBe("INVALID_SIGNATURE");
			const userId = JSON.parse(body).data.id as string;
			expect(await lookup(userId), label).toBeNull();
		}
		expect(await inbox()).toHaveLength(before);
	});

	it("accepts the unbranded webhook-* headers", async () => {
		const id = newUserId();
		const body = clerkUserEvent("user.created", { id });
		const res = await post(url, body, svixHeaders(body, { secret, headerPrefix: "webhook" }));
		expect(res.status).toBe(200);
		expect(await lookup(id)).not.toBeNull();
	});

	it("accepts a rotated-key header whose second v1 entry matches", async () => {
		const id = newUserId();
		const body = clerkUserEvent("user.created", { id });
		const oldKeySignature = svixHeaders(body, { secret: newWhsec() })["svix-signature"]!;
		const headers = svixHeaders(body, { secret, extraSignatures: [oldKeySignature] });
		expect(headers["svix-signature"]!.split(" ")).toHaveLength(2);
		expect((await post(url, body, headers)).status).toBe(200);
		expect(await lookup(id)).not.toBeNull();
	});

	it("applies the same svix-id delivered concurrently exactly once", async () => {
		const id = newUserId();
		const body = clerkUserEvent("user.created", { id, email: "once@example.com" });
		const headers = svixHeaders(body, { secret });
		const results = await Promise.all(Array.from({ length: 6 }, () => post(url, body, headers)));
		expect(results.map(r => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
		expect(results.filter(r => r.json.duplicate === false)).toHaveLength(1);
		expect(results.every(r => r.json.status === "applied")).toBe(true);

		const entries = (await inbox()).filter(e => e.eventId === headers["svix-id"]);
		expect(entries).toHaveLength(1);
		expect(entries[0]).toMatchObject({ status: "applied", attempts: 1 });
		await waitFor(() => recorder.named("marketplace.user_registered").find(e => e.context.userId === id));
		await new Promise(r => setTimeout(r, 200));
		expect(recorder.named("marketplace.user_registered").filter(e => e.context.userId === id)).toHaveLength(1);
		expect(recorder.named("communication.webhook_received").filter(e => e.data.eventId === headers["svix-id"])).toHaveLength(1);
	});

	it("applies once when the same delivery reaches the action concurrently (no HTTP in between)", async () => {
		const id = newUserId();
		const body = clerkUserEvent("user.created", { id });
		const headers = svixHeaders(body, { secret });
		const answers = await Promise.all(
			Array.from({ length: 8 }, () =>
				engine.broker.call<{ duplicate: boolean; status: string }, object>("webhooks.clerk", { body, headers })
			)
		);
		expect(answers.every(a => a.status === "applied")).toBe(true);
		expect(answers.filter(a => !a.duplicate)).toHaveLength(1);
		expect((await inbox()).find(e => e.eventId === headers["svix-id"])).toMatchObject({ attempts: 1, history: [{ outcome: "applied" }] });
	});

	it("user.deleted soft-deletes the user and pauses and detaches their vendors", async () => {
		const id = newUserId();
		const token = await engine.token(id);
		const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
		const created = await fetch(`${engine.baseUrl}/api/vendors`, {
			method: "POST",
			headers: auth,
			body: JSON.stringify({ name: "Taco Truck" }),
		});
		expect(created.status).toBe(201);
		const vendor = (await created.json()) as { id: string };
		const activated = await fetch(`${engine.baseUrl}/api/vendors/${vendor.id}/status`, {
			method: "POST",
			headers: auth,
			body: JSON.stringify({ status: "active" }),
		});
		expect(activated.status).toBe(200);

		const body = JSON.stringify({
			object: "event",
			type: "user.deleted",
			timestamp: Date.now(),
			data: { id, deleted: true, object: "user" },
		});
		const res = await post(url, body, svixHeaders(body, { secret }));
		expect(res.status).toBe(200);
		expect(res.json.status).toBe("applied");

		expect(await lookup(id)).toBeNull();
		const after = await engine.broker.call<{ ownerId: string | null; status: string }, { id: string }>("vendors.get", { id: vendor.id });
		expect(after).toMatchObject({ ownerId: null, status: "paused" });
		const change = await waitFor(() =>
			recorder.named("marketplace.vendor_status_changed").find(e => e.data.id === vendor.id && e.data.status === "paused")
		);
		expect(change.data).toMatchObject({ previous: "active", canBroadcast: false });
		await waitFor(() => recorder.named("marketplace.user_deleted").find(e => e.context.userId === id));
		// The deleted user's token no longer works.
		expect((await fetch(`${engine.baseUrl}/api/me`, { headers: auth })).status).toBe(401);

		// A user.updated delivered after the delete (Clerk sent it before) does not bring the user back.
		const late = clerkUserEvent("user.updated", { id, email: "late@example.com" });
		const lateAnswer = await post(url, late, svixHeaders(late, { secret }));
		expect(lateAnswer.status).toBe(200);
		expect(lateAnswer.json).toMatchObject({ status: "stale", reason: "user_deleted" });
		expect((await inbox()).find(e => e.id === lateAnswer.json.id)).toMatchObject({ status: "stale", reason: "user_deleted" });
		expect(await lookup(id)).toBeNull();
	});

	it("records and acknowledges event types it does not use", async () => {
		const body = JSON.stringify({ object: "event", type: "session.created", data: { id: "sess_1", user_id: "user_x" } });
		const headers = svixHeaders(body, { secret });
		const res = await post(url, body, headers);
		expect(res.status).toBe(200);
		expect(res.json).toMatchObject({ status: "ignored", reason: "event_type_not_used", duplicate: false });
		const [entry] = (await inbox()).filter(e => e.eventId === headers["svix-id"]);
		expect(entry).toMatchObject({ type: "session.created", status: "ignored", reason: "event_type_not_used", result: null });
	});

	it("answers malformed JSON with 400 after the signature check, invalid data with 422, and an oversized body with 413", async () => {
		const before = (await inbox()).length;
		const broken = '{"type":"user.created","data":{';
		const signed = await post(url, broken, svixHeaders(broken, { secret }));
		expect(signed.status).toBe(400);
		expect(signed.json).toMatchObject({ code: 400, type: "INVALID_JSON" });
		const unsigned = await post(url, broken, svixHeaders(broken, { secret: newWhsec() }));
		expect(unsigned.status).toBe(401);

		const noId = JSON.stringify({ type: "user.created", data: { email_addresses: [] } });
		const invalid = await post(url, noId, svixHeaders(noId, { secret }));
		expect(invalid.status).toBe(422);
		expect(invalid.json).toMatchObject({ type: "VALIDATION_ERROR", data: { fields: ["data.id"] } });

		const huge = JSON.stringify({ type: "user.created", data: { id: newUserId(), pad: "x".repeat(300 * 1024) } });
		const tooLarge = await post(url, huge, svixHeaders(huge, { secret }));
		expect(tooLarge.status).toBe(413);
		expect(tooLarge.json).toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });

		expect(await inbox()).toHaveLength(before);
		expect((await fetch(`${engine.baseUrl}/health/ready`)).status).toBe(200);
	});
}

describe("POST /webhooks/clerk on the embedded store", () => clerkSuite("embedded"));
describe.skipIf(!MONGO_URL)("POST /webhooks/clerk on Mongo", () => clerkSuite("mongo"));

describe("webhook endpoints without their secrets", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "api,webhooks", CLERK_WEBHOOK_SECRET: undefined, REVENUECAT_WEBHOOK_AUTH: undefined });
	});
	afterAll(() => engine?.stop());

	it("answer 503 WEBHOOK_NOT_CONFIGURED and record nothing", async () => {
		const body = clerkUserEvent("user.created", { id: newUserId() });
		const clerk = await post(`${engine.baseUrl}/webhooks/clerk`, body, svixHeaders(body, { secret: newWhsec() }));
		expect(clerk.status).toBe(503);
		expect(clerk.json).toMatchObject({ type: "WEBHOOK_NOT_CONFIGURED", data: { variable: "CLERK_WEBHOOK_SECRET" } });
		const rc = await post(`${engine.baseUrl}/webhooks/revenuecat`, '{"event":{"id":"e","type":"TEST"}}', { authorization: "anything" });
		expect(rc.status).toBe(503);
		expect(rc.json).toMatchObject({ type: "WEBHOOK_NOT_CONFIGURED", data: { variable: "REVENUECAT_WEBHOOK_AUTH" } });
		expect(await engine.broker.call("webhooks.inbox", {}, AS_OPERATOR)).toEqual([]);
	});
});
