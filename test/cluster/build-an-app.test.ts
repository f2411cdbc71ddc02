import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page, type WebSocketRoute } from "playwright-core";
import { startTestEngine, waitFor, type TestEngine } from "../helpers/engine.ts";
import { activeVendor, waitForRoutes } from "../helpers/live.ts";
import { doc } from "../helpers/docs.ts";
import { freePort } from "../helpers/ports.ts";
import { ROOT } from "../helpers/process.ts";
import { connectVendor, type VendorPublisher } from "../../packages/client/src/index.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipped: the "Build an app" example needs ${CHROMIUM} (apt-get install chromium)`);

const EXAMPLE = "packages/client/examples/map.ts";
const SPOT = { lat: 52.52, lng: 13.405 };

/** The ```ts block after the example's marker in docs/build-an-app.md. */
function exampleInDocs(): string {
	const text = doc("build-an-app.md");
	const start = text.indexOf(`<!-- example: ${EXAMPLE} -->`);
	expect(start).toBeGreaterThan(0);
	const block = /```ts\n([\s\S]*?)```/.exec(text.slice(start))!;
	return block[1]!;
}

describe('"Build an app": the documented example', () => {
	it("is the example file, and under 20 lines", () => {
		const file = readFileSync(join(ROOT, EXAMPLE), "utf8");
		expect(exampleInDocs()).toBe(file);
		expect(file.trimEnd().split("\n").length).toBeLessThan(20);
	});
});

/** The callbacks of page.evaluate run in the browser; this file is typed for Node. */
declare const document: { querySelectorAll(selector: string): ArrayLike<{ style: { transform: string } }> };

describe.skipIf(!hasChromium)('"Build an app": the example in Chromium against a real engine', () => {
	let engine: TestEngine;
	let browser: Browser | undefined;
	let page: Page;
	let vendor: VendorPublisher;
	let mover: ReturnType<typeof setInterval> | undefined;
	let minted = 0;
	let APP: string;
	let app: Server | undefined;
	const sockets: WebSocketRoute[] = [];

	beforeAll(async () => {
		// The package as an app installs it: built (dist), then bundled with the app by esbuild.
		execFileSync(process.execPath, [join(ROOT, "scripts/build-client.ts")], { stdio: "ignore" });
		const { build } = await import("esbuild");
		const bundle = await build({ entryPoints: [join(ROOT, EXAMPLE)], bundle: true, format: "esm", write: false, logLevel: "silent" });
		const leafletCss = readFileSync(join(ROOT, "node_modules/leaflet/dist/leaflet.css"), "utf8");

		APP = `http://127.0.0.1:${await freePort()}`;
		engine = await startTestEngine({ AUTH_GRACE_S: "1" });
		await waitForRoutes(engine.baseUrl);
		const owner = await engine.token("user_app_vendor");
		const vendorId = await activeVendor(engine.baseUrl, owner, "Example Cart");
		vendor = connectVendor({ url: engine.liveUrl, vendor: vendorId, maxHz: 4, getToken: () => engine.token("user_app_vendor") });
		let step = 0;
		mover = setInterval(() => vendor.publish({ lat: SPOT.lat + ++step * 0.00003, lng: SPOT.lng }), 250);

		browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
		page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
		// The app's own origin, a real HTTP server: its page, its bundle, and its backend's session tokens (2 s: refreshed often).
		const html = `<!doctype html><style>${leafletCss}</style><div id="map" style="height:600px"></div><script type="module" src="/app.js"></script>`;
		app = createServer(async (req, res) => {
			const path = new URL(req.url ?? "/", APP).pathname;
			if (path === "/") res.writeHead(200, { "Content-Type": "text/html" }).end(html);
			else if (path === "/app.js") res.writeHead(200, { "Content-Type": "text/javascript" }).end(bundle.outputFiles[0]!.text);
			else if (path === "/session-token") {
				minted++;
				res.writeHead(200, { "Content-Type": "text/plain" }).end(await engine.token("user_app_viewer", 2));
			} else res.writeHead(404).end();
		});
		await new Promise<void>(resolve => app!.listen(Number(new URL(APP).port), "127.0.0.1", resolve));
		// Sockets pass through a route the test can cut.
		await page.routeWebSocket(/\/live/, ws => {
			ws.connectToServer();
			sockets.push(ws);
		});
		await page.goto(`${APP}/?live=${encodeURIComponent(engine.liveUrl)}`);
	});
	afterAll(async () => {
		clearInterval(mover);
		await browser?.close();
		app?.close();
		await vendor?.close();
		await engine?.stop();
	});

	const markerTransforms = () =>
		page.evaluate(() => Array.from(document.querySelectorAll(".leaflet-marker-icon"), el => el.style.transform));
	const viewerSockets = async () =>
		(
			await engine.broker.call<{ watchSets: { connId: number; user: string | null }[] }, { sockets: boolean }>("live.stats", {
				sockets: true,
			})
		).watchSets
			.filter(s => s.user === "user_app_viewer")
			.map(s => s.connId);

	it("shows the vendor as a marker that moves", async () => {
		const first = await waitFor(async () => (await markerTransforms())[0], { timeout: 20_000, what: "a marker" });
		await waitFor(async () => (await markerTransforms())[0] !== first, { timeout: 10_000, what: "the marker to move" });
		expect(await markerTransforms()).toHaveLength(1);
	});

	it("keeps its socket signed in over several token lifetimes by refreshing the token", async () => {
		const [connId] = await waitFor(async () => ((await viewerSockets()).length === 1 ? viewerSockets() : undefined), {
			what: "the example's socket signed in",
		});
		const mintedBefore = minted;
		// Three lifetimes of a 2 s token, plus the 1 s grace: without refreshes it would be closed (4003).
		await new Promise(r => setTimeout(r, 7_000));
		expect(await viewerSockets()).toEqual([connId]);
		expect(minted - mintedBefore).toBeGreaterThanOrEqual(3);
	}, 20_000);

	it("reconnects after a cut connection, watches again and keeps the marker moving", async () => {
		const before = sockets.length;
		await sockets.at(-1)!.close();
		await waitFor(() => sockets.length > before, { timeout: 10_000, what: "a new socket" });
		await waitFor(async () => (await viewerSockets()).length === 1, { timeout: 10_000, what: "the new socket signed in" });
		const now = (await markerTransforms())[0];
		await waitFor(async () => (await markerTransforms())[0] !== now, { timeout: 10_000, what: "the marker to move again" });
		expect(await markerTransforms()).toHaveLength(1);
	});
});
