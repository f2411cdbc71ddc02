import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes, randomUUID } from "node:crypto";
import WebSocket from "ws";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { post, revenueCatEvent } from "../../helpers/webhooks.ts";

type Frame = { op: string; id?: string; [key: string]: unknown };

/** A real socket client keeping its frames and close code. */
function openSocket(url: string): Promise<{ ws: WebSocket; frames: Frame[]; closed: () => number | null }> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url);
		const frames: Frame[] = [];
		let code: number | null = null;
		ws.on("message", data => frames.push(JSON.parse(data.toString()) as Frame));
		ws.on("close", c => (code = c));
		ws.once("open", () => resolve({ ws, frames, closed: () => code }));
		ws.once("error", reject);
	});
}

/**
 * End to end with REQUIRE_SUBSCRIPTION=true: a subscribed vendor broadcasts over the live
 * socket; RevenueCat's EXPIRATION webhook ends the subscription, the vendor's socket is closed
 * (4010, broadcast revoked) and watchers see it leave the map.
 */
describe("RevenueCat EXPIRATION stops a live broadcast", () => {
	const authorization = `Bearer rc_${randomBytes(18).toString("base64url")}`;
	let engine: TestEngine;
	const sockets: WebSocket[] = [];

	beforeAll(async () => {
		engine = await startTestEngine({
			SERVICES: "api,users,vendors,geo,live,webhooks",
			REVENUECAT_WEBHOOK_AUTH: authorization,
			REQUIRE_SUBSCRIPTION: "true",
		});
		await waitFor(async () => (await fetch(`${engine.baseUrl}/api/vendors`)).status !== 404, { what: "REST aliases" });
	});
	afterAll(async () => {
		for (const ws of sockets) ws.close();
		await engine?.stop();
	});

	it("closes the vendor's socket with 4010 and removes it from watchers' maps", async () => {
		const userId = `user_${randomUUID().replace(/-/g, "").slice(0, 20)}`;
		const token = await engine.token(userId);
		const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
		const created = await fetch(`${engine.baseUrl}/api/vendors`, {
			method: "POST",
			headers,
			body: JSON.stringify({ name: "Gelato Cart" }),
		});
		const vendorId = ((await created.json()) as { id: string }).id;

		const t0 = Date.now() - 1000;
		const bought = await post(
			`${engine.baseUrl}/webhooks/revenuecat`,
			revenueCatEvent({
				type: "INITIAL_PURCHASE",
				app_user_id: userId,
				entitlement_ids: ["vendor"],
				expiration_at_ms: t0 + 86_400_000,
				event_timestamp_ms: t0,
			}),
			{ authorization }
		);
		expect(bought.status).toBe(200);
		expect(
			(
				await fetch(`${engine.baseUrl}/api/vendors/${vendorId}/status`, {
					method: "POST",
					headers,
					body: JSON.stringify({ status: "active" }),
				})
			).status
		).toBe(200);

		const position = { lat: 52.52, lng: 13.405 };
		const watcher = await openSocket(engine.liveUrl);
		sockets.push(watcher.ws);
		watcher.ws.send(JSON.stringify({ op: "watch", near: { ...position, radius: 500 } }));
		await waitFor(() => watcher.frames.find(f => f.op === "snapshot"), { what: "snapshot" });

		const vendor = await openSocket(`${engine.liveUrl}?token=${encodeURIComponent(token)}&vendor=${vendorId}`);
		sockets.push(vendor.ws);
		vendor.ws.send(JSON.stringify({ op: "pos", ...position }));
		await waitFor(() => watcher.frames.find(f => f.op === "pos" && f.id === vendorId), { what: "the vendor's position at the watcher" });

		const expired = await post(
			`${engine.baseUrl}/webhooks/revenuecat`,
			revenueCatEvent({
				type: "EXPIRATION",
				app_user_id: userId,
				entitlement_ids: ["vendor"],
				expiration_at_ms: t0 + 500,
				event_timestamp_ms: t0 + 500,
			}),
			{ authorization }
		);
		expect(expired.status).toBe(200);

		expect(await waitFor(() => vendor.closed(), { what: "the vendor socket to close" })).toBe(4010);
		await waitFor(() => watcher.frames.find(f => f.op === "gone" && f.id === vendorId), { what: "gone at the watcher" });
		expect(watcher.closed()).toBeNull();

		// A new vendor socket is refused while unsubscribed.
		await expect(openSocket(`${engine.liveUrl}?token=${encodeURIComponent(token)}&vendor=${vendorId}`)).rejects.toThrow(/403/);
	});
});
