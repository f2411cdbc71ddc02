import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceBroker } from "moleculer";
import { loadConfig } from "../../../config/index.ts";
import { createEngine } from "../../../runtime/engine.ts";
import { startTestEngine, testEnv, type TestEngine } from "../../helpers/engine.ts";

describe("live gateway port", () => {
	let first: TestEngine;
	beforeAll(async () => {
		first = await startTestEngine({ SERVICES: "live" });
	});
	afterAll(() => first.stop());

	it("refuses to start on a LIVE_PORT another process listens on, instead of sharing it", async () => {
		const config = loadConfig(await testEnv({ SERVICES: "live", LIVE_PORT: String(first.config.livePort) }));
		const second: ServiceBroker = await createEngine(config);
		try {
			await expect(second.start()).rejects.toThrow(`LIVE_PORT ${first.config.livePort} is not available`);
		} finally {
			await second.stop().catch(() => undefined);
		}
		// The first gateway still answers, and only it.
		const res = await fetch(`http://127.0.0.1:${first.config.livePort}/health/live`);
		expect(await res.json()).toMatchObject({ status: "ok", nodeID: first.broker.nodeID });
	});
});
