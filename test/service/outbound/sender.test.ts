import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "svix";
import { newSecret } from "../../../lib/standard-webhooks.ts";
import { RESPONSE_SNIPPET_MAX } from "../../../services/outbound/contract.ts";
import { sendSigned } from "../../../services/outbound/sender.ts";
import { freePort } from "../../helpers/ports.ts";

/** One real HTTP server answering by path: /ok 204, /hang never, /redirect 302, /big 503 with a long body. */
describe("one outbound attempt", () => {
	let server: Server;
	let base = "";
	const seen: { headers: Record<string, unknown>; body: string }[] = [];
	beforeAll(async () => {
		server = createServer((req, res) => {
			let body = "";
			req.on("data", c => (body += c));
			req.on("end", () => {
				seen.push({ headers: req.headers, body });
				if (req.url === "/ok") res.writeHead(204).end();
				else if (req.url === "/redirect") res.writeHead(302, { location: "/ok" }).end();
				else if (req.url === "/big") res.writeHead(503).end("x".repeat(100_000));
				// /hang: never answers
			});
		});
		const port = await freePort();
		await new Promise<void>(r => server.listen(port, "127.0.0.1", r));
		base = `http://127.0.0.1:${port}`;
	});
	afterAll(() => {
		server.closeAllConnections();
		server.close();
	});

	const message = (path: string, secret = newSecret()) => ({ url: `${base}${path}`, secret, id: "msg_test", body: '{"type":"x"}' });

	it("is delivered on a 2xx, signed so that svix verifies it", async () => {
		const m = message("/ok");
		expect(await sendSigned(m, 2_000)).toEqual({ ok: true, status: 204, error: null });
		const got = seen.at(-1)!;
		expect(() => new Webhook(m.secret).verify(got.body, got.headers as Record<string, string>)).not.toThrow();
		expect(got.headers["webhook-id"]).toBe("msg_test");
	});

	it("fails on a redirect (not followed), keeps at most a snippet of a long answer, times out, and names a refused connection", async () => {
		expect(await sendSigned(message("/redirect"), 2_000)).toMatchObject({ ok: false, status: 302 });
		const big = await sendSigned(message("/big"), 2_000);
		expect(big).toMatchObject({ ok: false, status: 503 });
		expect(big.error!.length).toBeLessThanOrEqual(RESPONSE_SNIPPET_MAX + 20);
		expect(await sendSigned(message("/hang"), 300)).toEqual({ ok: false, status: null, error: "no answer within 300 ms" });
		const closed = await sendSigned({ ...message("/ok"), url: `http://127.0.0.1:${await freePort()}/` }, 2_000);
		expect(closed).toMatchObject({ ok: false, status: null });
		expect(closed.error).toMatch(/ECONNREFUSED/);
	});
});
