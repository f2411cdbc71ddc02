import { describe, expect, it } from "vitest";
import { Webhook } from "svix";
import { ConfigError, loadConfig } from "../../../../config/index.ts";
import { newSecret, signedHeaders } from "../../../../lib/standard-webhooks.ts";
import { OUTBOUND_METRICS } from "../../../../services/outbound/contract.ts";
import { deliveryId } from "../../../../services/outbound/deliveries.ts";
import { urlProblem } from "../../../../services/outbound/endpoints.ts";
import { doc, tableAfter } from "../../../helpers/docs.ts";

const env = (extra: Record<string, string>) => ({ NODE_ENV: "test", AUTH_DEV_SECRET: "x".repeat(32), ...extra });

describe("outbound webhooks", () => {
	it("takes absolute http(s) URLs with a host and no credentials, bounded in length", () => {
		expect(urlProblem("https://hooks.example.com/venta?x=1")).toBeNull();
		expect(urlProblem("http://10.0.0.7:8080/hook")).toBeNull();
		expect(urlProblem("ftp://hooks.example.com/")).toMatch(/http/);
		expect(urlProblem("hooks.example.com/venta")).toMatch(/absolute/);
		expect(urlProblem("https://me:pw@hooks.example.com/")).toMatch(/credentials/);
		expect(urlProblem(`https://hooks.example.com/${"a".repeat(2_048)}`)).toMatch(/at most/);
	});

	it("gives one idempotency id per event and endpoint, whatever the attempt", () => {
		expect(deliveryId("ev-1", "ep_a")).toBe(deliveryId("ev-1", "ep_a"));
		expect(deliveryId("ev-1", "ep_a")).not.toBe(deliveryId("ev-1", "ep_b"));
		expect(deliveryId("ev-1", "ep_a")).toMatch(/^msg_[\w-]{27}$/);
	});

	it("signs what the official svix library verifies, with a generated secret", () => {
		const secret = newSecret();
		const body = JSON.stringify({ type: "location.proximity_alert", data: { vendorId: "v1" } });
		const headers = signedHeaders(secret, "msg_1", Math.floor(Date.now() / 1000), body);
		expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
		expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
		expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
	});

	it("reads the retry schedule once: RevenueCat's by default, whole seconds otherwise", () => {
		expect(loadConfig(env({})).outbound).toEqual({ retryScheduleS: [300, 600, 1200, 2400, 4800], timeoutMs: 10_000 });
		expect(loadConfig(env({ OUTBOUND_RETRY_SCHEDULE_S: "1, 1,2", OUTBOUND_TIMEOUT_MS: "500" })).outbound).toEqual({
			retryScheduleS: [1, 1, 2],
			timeoutMs: 500,
		});
		for (const bad of ["0", "1.5", "a,b", "90000", Array(21).fill("1").join(",")]) {
			expect(() => loadConfig(env({ OUTBOUND_RETRY_SCHEDULE_S: bad })), bad).toThrow(ConfigError);
		}
	});

	it("documents the metrics it registers in docs/operations.md, and no other", () => {
		const documented = tableAfter(doc("operations.md"), "### Outbound webhook metrics").map(([name]) => name);
		expect(documented.sort()).toEqual(
			Object.values(OUTBOUND_METRICS)
				.map(m => m.replaceAll(".", "_"))
				.sort()
		);
	});
});
