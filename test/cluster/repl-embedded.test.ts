import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { TEST_DEV_SECRET } from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode } from "../helpers/process.ts";
import { startRepl } from "../helpers/repl.ts";

describe("npm run repl without NATS_URL: the embedded engine with the REPL attached", () => {
	const home = mkdtempSync(join(tmpdir(), "venta-repl-home-"));
	afterAll(() => rmSync(home, { recursive: true, force: true }));

	it("runs every service in-process, answers commands, exits 0", async () => {
		const repl = await startRepl(
			{
				HOME: home,
				NODE_ENV: "test",
				DATA_DIR: ":memory:",
				AUTH_DEV_SECRET: TEST_DEV_SECRET,
				PORT: String(await freePort()),
				LIVE_PORT: String(await freePort()),
			},
			"venta $"
		);
		const send = repl.send;
		try {
			const services = await send("services", text => text.includes("webhooks"));
			for (const name of ["api", "users", "vendors", "discovery", "geo", "webhooks", "live"]) expect(services).toContain(name);
			expect(await send("online", text => text.includes("online"))).toContain("No vendor online here.");
			expect(await send("sockets --window 0.1", text => text.includes("Routed-in/s"))).toMatch(/│ 0\s+│/);
			expect(await send("inbox", text => text.includes("webhook"))).toContain("No recorded webhook events.");
			expect(await repl.exit()).toBe(0);
		} finally {
			repl.kill();
		}
	});

	it("beside a running engine on the same ports, says how to attach over NATS instead of failing on the ports", async () => {
		const port = await freePort();
		const taken = createServer().listen(port, "127.0.0.1");
		try {
			const repl = spawnNode("scripts/repl/repl.ts", {
				HOME: home,
				DATA_DIR: ":memory:",
				AUTH_DEV_SECRET: TEST_DEV_SECRET,
				PORT: String(port),
				LIVE_PORT: String(await freePort()),
			});
			expect(await repl.exited).toBe(1);
			expect(repl.output()).toContain(`Port ${port} is in use (is \`npm start\` running?)`);
			expect(repl.output()).toContain("NATS_URL=nats://127.0.0.1:4222 npm run repl");
		} finally {
			taken.close();
		}
	});
});
