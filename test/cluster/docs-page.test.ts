import { existsSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { startTestEngine, type TestEngine } from "../helpers/engine.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipped: the /docs browser test needs ${CHROMIUM} (apt-get install chromium)`);

/** The page's DOM, seen from this Node-typed file. */
declare const document: { querySelectorAll(selector: string): { length: number } };

/** A reverse proxy that serves the engine under `/venta` (as a deployment behind a path prefix would). */
function prefixProxy(target: URL): Promise<Server> {
	const server = createServer((req, res) => {
		if (!req.url?.startsWith("/venta/")) {
			res.writeHead(404).end();
			return;
		}
		const upstream = request(
			{ host: target.hostname, port: target.port, path: req.url.slice("/venta".length), method: req.method, headers: req.headers },
			answer => {
				res.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(res);
			}
		);
		req.pipe(upstream);
	});
	return new Promise(resolve => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe.skipIf(!hasChromium)("the /docs page in a browser, behind a path prefix", () => {
	let engine: TestEngine;
	let proxy: Server;
	let browser: Browser;
	beforeAll(async () => {
		engine = await startTestEngine();
		proxy = await prefixProxy(new URL(engine.baseUrl));
		browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
	});
	afterAll(async () => {
		await browser?.close();
		proxy?.close();
		await engine?.stop();
	});

	it("renders every operation of /openapi.json, loading nothing from elsewhere and breaking no CSP rule", async () => {
		const base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/venta`;
		const page = await browser.newPage();
		const problems: string[] = [];
		const requested: string[] = [];
		page.on("console", message => {
			if (message.type() === "error") problems.push(message.text());
		});
		page.on("pageerror", err => problems.push(err.message));
		page.on("request", req => requested.push(req.url()));
		page.on("response", res => {
			if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`);
		});
		await page.goto(`${base}/docs`);
		const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, object> };
		const operations = Object.values(spec.paths).reduce((sum, ops) => sum + Object.keys(ops).length, 0);
		await page.waitForFunction(n => document.querySelectorAll(".opblock").length === n, operations, { timeout: 20_000 });
		// An operation opened shows its parameters and answers, with their schemas.
		const onboarding = '.opblock-post:has(.opblock-summary-path[data-path="/api/vendors"])';
		await page.click(`${onboarding} .opblock-summary`);
		await page.waitForSelector(`${onboarding} .responses-table`, { timeout: 10_000 });
		expect(problems).toEqual([]);
		expect(requested.filter(url => !url.startsWith(`${base}/`) && !url.startsWith("data:"))).toEqual([]);
		expect(requested).toContain(`${base}/openapi.json`);
	});
});
