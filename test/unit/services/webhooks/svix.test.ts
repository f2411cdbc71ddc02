import { describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { svixKey } from "../../../../lib/standard-webhooks.ts";
import { verifySvix } from "../../../../services/webhooks/svix.ts";
import { newWhsec, svixHeaders } from "../../../helpers/webhooks.ts";

describe("Svix signature verification", () => {
	const secret = newWhsec();
	const body = '{"type":"user.created","data":{"id":"user_1"}}';

	it("accepts a signature computed independently over id.timestamp.body with the decoded key", () => {
		const ts = Math.floor(Date.now() / 1000);
		const key = Buffer.from(secret.slice(6), "base64");
		const sig = createHmac("sha256", key).update(`msg_1.${ts}.${body}`).digest("base64");
		const result = verifySvix(secret, { "svix-id": "msg_1", "svix-timestamp": String(ts), "svix-signature": `v1,${sig}` }, body);
		expect(result).toEqual({ ok: true, id: "msg_1", timestamp: ts });
		expect(svixKey(secret)).toEqual(key);
	});

	it("refuses a tampered body, a wrong secret, missing headers and bad timestamps", () => {
		const headers = svixHeaders(body, { secret, id: "msg_2" });
		expect(verifySvix(secret, headers, body.replace("user_1", "user_2"))).toMatchObject({ ok: false, reason: "BAD_SIGNATURE" });
		expect(verifySvix(newWhsec(), headers, body)).toMatchObject({ ok: false, reason: "BAD_SIGNATURE" });
		expect(verifySvix(secret, { ...headers, "svix-signature": undefined }, body)).toMatchObject({ ok: false, reason: "MISSING_HEADERS" });
		expect(verifySvix(secret, { ...headers, "svix-timestamp": "soon" }, body)).toMatchObject({ ok: false, reason: "BAD_TIMESTAMP" });
		const now = Date.now();
		const stale = svixHeaders(body, { secret, timestamp: Math.floor(now / 1000) - 301 });
		const future = svixHeaders(body, { secret, timestamp: Math.floor(now / 1000) + 301 });
		expect(verifySvix(secret, stale, body, now)).toMatchObject({ ok: false, reason: "STALE_TIMESTAMP" });
		expect(verifySvix(secret, future, body, now)).toMatchObject({ ok: false, reason: "FUTURE_TIMESTAMP" });
		const edge = svixHeaders(body, { secret, timestamp: Math.floor(now / 1000) - 299 });
		expect(verifySvix(secret, edge, body, now).ok).toBe(true);
	});

	it("accepts any matching v1 entry, ignores other versions, and reads webhook-* headers", () => {
		const rotated = svixHeaders(body, { secret, extraSignatures: ["v1,AAAAbm90IHRoZSBzaWduYXR1cmU=", "v2,whatever"] });
		expect(verifySvix(secret, rotated, body).ok).toBe(true);
		const good = svixHeaders(body, { secret, id: "msg_3" })["svix-signature"]!;
		const wrongVersion = { ...svixHeaders(body, { secret, id: "msg_3" }), "svix-signature": good.replace("v1,", "v2,") };
		expect(verifySvix(secret, wrongVersion, body).ok).toBe(false);
		expect(verifySvix(secret, svixHeaders(body, { secret, headerPrefix: "webhook" }), body).ok).toBe(true);
	});
});
