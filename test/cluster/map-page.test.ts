import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page, type WebSocket as PageSocket } from "playwright-core";
import { buildWeb } from "../../scripts/build-web.ts";
import { startTestEngine, waitFor, type TestEngine } from "../helpers/engine.ts";
import { ROOT } from "../helpers/process.ts";
import { startSimulator, type Simulator } from "../helpers/simulator.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipped: map page browser tests need ${CHROMIUM} (apt-get install chromium)`);

const BBOX = [13.392, 52.514, 13.408, 52.522] as const;
const CENTRE = { lat: 52.518, lng: 13.4 };
const SCREENSHOT = `${ROOT}test-output/map-page.png`;

type Frame = { op: string; [k: string]: unknown };

/** The callbacks passed to page.evaluate/waitForFunction run in the browser; this file is typed for Node. */
declare const document: {
	querySelectorAll(selector: string): ArrayLike<BrowserElement> & Iterable<BrowserElement>;
	body: { classList: { contains(c: string): boolean } };
};
type BrowserElement = {
	textContent: string | null;
	dataset: Record<string, string>;
	value: string;
	getBoundingClientRect(): { x: number; y: number };
};

describe("map page served by the REST gateway", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		await buildWeb();
		engine = await startTestEngine({ SERVICES: "api", MAP_TILES_URL: "https://tiles.example.com/{z}/{x}/{y}.png" });
	});
	afterAll(() => engine?.stop());

	it("serves the built page and its bundle at /", async () => {
		const page = await fetch(`${engine.baseUrl}/`);
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toContain("text/html");
		const html = await page.text();
		expect(html).toContain('<script type="module" src="app.js">');
		const bundle = await fetch(`${engine.baseUrl}/app.js`);
		expect(bundle.status).toBe(200);
		expect(bundle.headers.get("content-type")).toContain("javascript");
		// Bundled, not fetched from elsewhere at run time.
		expect(await bundle.text()).not.toMatch(/https?:\/\/[^"'\s]*\.(js|css)\b/);
		expect((await fetch(`${engine.baseUrl}/app.css`)).status).toBe(200);
	});

	it("tells the page the tiles URL and the live port", async () => {
		const res = await fetch(`${engine.baseUrl}/config.json`);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			tilesUrl: "https://tiles.example.com/{z}/{x}/{y}.png",
			livePort: engine.config.livePort,
			h3Res: 8,
			watchMaxCells: 2000,
		});
	});

	it("keeps the API, health and metrics routes ahead of the static files", async () => {
		expect((await fetch(`${engine.baseUrl}/health/live`)).headers.get("content-type")).toContain("application/json");
		expect(await (await fetch(`${engine.baseUrl}/metrics`)).text()).toMatch(/^moleculer_/m);
		const missing = await fetch(`${engine.baseUrl}/api/nothing-here`);
		expect(missing.status).toBe(404);
		expect(await missing.json()).toMatchObject({ type: "NOT_FOUND" });
		// The webhook route answers (here: its service is not running, so 503), not the static 404.
		const webhook = await fetch(`${engine.baseUrl}/webhooks/clerk`, {
			method: "POST",
			body: "{}",
			headers: { "Content-Type": "application/json" },
		});
		expect(webhook.status).toBe(503);
		expect(await webhook.json()).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });
		const noFile = await fetch(`${engine.baseUrl}/no-such-file.js`);
		expect(noFile.status).toBe(404);
		expect(await noFile.json()).toMatchObject({ type: "NOT_FOUND" });
	});
});

describe.skipIf(!hasChromium)("map page in headless Chromium", () => {
	let engine: TestEngine;
	let sim: Simulator | undefined;
	let browser: Browser | undefined;
	let page: Page;
	const sent: Frame[] = [];
	const received: Frame[] = [];

	beforeAll(async () => {
		await buildWeb();
		// A short grace, so the signed-in page's refresh is proven within seconds.
		engine = await startTestEngine({ AUTH_GRACE_S: "2" });
		sim = await startSimulator(engine, { vendors: 16, bbox: BBOX, prefix: "maptest", args: ["--hz", "2", "--offline-per-hour", "0"] });
		browser = await chromium.launch({
			executablePath: CHROMIUM,
			args: [
				"--headless",
				"--no-sandbox",
				"--disable-gpu",
				"--disable-quic",
				"--no-first-run",
				"--disable-background-networking",
				"--disable-component-update",
				"--disable-sync",
			],
		});
		page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
		page.on("websocket", (ws: PageSocket) => {
			ws.on("framesent", f => sent.push(JSON.parse(String(f.payload)) as Frame));
			ws.on("framereceived", f => received.push(JSON.parse(String(f.payload)) as Frame));
		});
		await page.goto(`${engine.baseUrl}/#${CENTRE.lat},${CENTRE.lng},16`);
	});
	afterAll(async () => {
		await browser?.close();
		await sim?.kill("SIGKILL");
		await engine?.stop();
	});

	/** Screen position of every vendor marker, by vendor id. */
	const markerBoxes = () =>
		page.$$eval(".vendor-marker[data-id]", els =>
			Object.fromEntries(
				(els as unknown as BrowserElement[]).map(el => {
					const r = el.getBoundingClientRect();
					return [el.dataset.id!, [r.x, r.y]];
				})
			)
		) as Promise<Record<string, [number, number]>>;

	it("loads, connects and watches the viewport", async () => {
		await page.waitForSelector('#status[data-state="live"]');
		const watch = await waitFor(() => sent.find(f => f.op === "watch"), { what: "a watch frame" });
		const [w, s, e, n] = watch.bbox as number[];
		expect(w).toBeLessThan(CENTRE.lng);
		expect(e).toBeGreaterThan(CENTRE.lng);
		expect(s).toBeLessThan(CENTRE.lat);
		expect(n).toBeGreaterThan(CENTRE.lat);
		const snapshot = await waitFor(() => received.find(f => f.op === "snapshot"), { what: "a snapshot" });
		expect((snapshot.cells as string[]).length).toBeGreaterThan(0);
		// Without MAP_TILES_URL the page says so and draws on a plain background.
		expect(await page.evaluate(() => document.body.classList.contains("no-tiles"))).toBe(true);
	});

	it("shows the simulated vendors as markers that move", async () => {
		await page.waitForFunction(() => document.querySelectorAll(".vendor-marker[data-id]").length >= 8, null, { timeout: 20_000 });
		const before = await markerBoxes();
		const moved = await waitFor(
			async () => {
				const now = await markerBoxes();
				return Object.keys(now).find(id => before[id] && Math.hypot(now[id]![0] - before[id]![0], now[id]![1] - before[id]![1]) > 2);
			},
			{ timeout: 15_000, what: "a marker to move" }
		);
		expect(Object.keys(before)).toContain(moved);
		expect(await page.textContent("#counts")).toMatch(/^\d+ live · \d+ cells watched$/);
	});

	it("opens the vendor card from REST when a marker is clicked", async () => {
		const id = Object.keys(await markerBoxes())[0]!;
		// Markers glide continuously, so skip Playwright's "stable element" wait.
		await page.locator(`.vendor-marker[data-id="${id}"]`).click({ force: true });
		await page.waitForSelector("#vendor-card .name");
		const shown = await page.getAttribute("#vendor-card", "data-id");
		const vendor = (await (await fetch(`${engine.baseUrl}/api/vendors/${shown}`)).json()) as { name: string; categories: string[] };
		expect(await page.textContent("#vendor-card .name")).toBe(vendor.name);
		expect(await page.textContent("#vendor-card .categories")).toBe(vendor.categories.join(""));
		expect(await page.textContent("#vendor-card .badges")).toMatch(/no subscription/);
		expect(await page.textContent("#vendor-card .rating")).toBe("no reviews yet");
		expect(await page.textContent("#vendor-card .age")).toMatch(/^position \d+ s ago$/);
		await mkdir(`${ROOT}test-output`, { recursive: true });
		await page.screenshot({ path: SCREENSHOT });
		expect(existsSync(SCREENSHOT)).toBe(true);
	});

	it("lists nearby vendors with text and category filters", async () => {
		await page.waitForFunction(() => document.querySelectorAll("#nearby li").length >= 8, null, { timeout: 20_000 });
		const names = await page.$$eval("#nearby li .name", els => (els as unknown as BrowserElement[]).map(e => e.textContent!));
		// Simulated names end in their number ("Sunny Tacos Cart 12"): a two-digit one is a selective search word.
		const word = names.map(n => n.split(" ").at(-1)!).find(w => w.length === 2)!;
		await page.fill("#q", word);
		await page.waitForFunction(
			([w, total]) => {
				const shown = [...document.querySelectorAll("#nearby li .name")].map(e => e.textContent!);
				return shown.length >= 1 && shown.length < total && shown.every(n => n.split(" ").includes(w));
			},
			[word, names.length] as const
		);
		await page.fill("#q", "");
		const category = await page.$eval("#category option:nth-child(2)", o => (o as unknown as BrowserElement).value);
		await page.selectOption("#category", category);
		await page.waitForFunction(c => {
			const items = [...document.querySelectorAll("#nearby li .categories")];
			return items.length >= 1 && items.every(e => e.textContent!.split(" · ").includes(c));
		}, category);
	});

	it("shades cells by live count when the heatmap is on", async () => {
		const answer = page.waitForResponse(r => r.url().includes("/api/discovery/heatmap"));
		await page.check("#heatmap-toggle");
		const res = await answer;
		expect(res.status()).toBe(200);
		const body = (await res.json()) as { cells: Array<{ cell: string; count: number }> };
		expect(body.cells.reduce((sum, c) => sum + c.count, 0)).toBeGreaterThan(0);
		await page.uncheck("#heatmap-toggle");
	});

	it("re-watches when the map is panned", async () => {
		const watchesBefore = sent.filter(f => f.op === "watch").length;
		const snapshotsBefore = received.filter(f => f.op === "snapshot").length;
		const lastCells = new Set(received.filter(f => f.op === "snapshot").at(-1)!.cells as string[]);
		const map = (await page.locator("#map").boundingBox())!;
		await page.mouse.move(map.x + map.width / 2, map.y + map.height / 2);
		await page.mouse.down();
		await page.mouse.move(map.x + map.width / 2 - 600, map.y + map.height / 2, { steps: 12 });
		await page.mouse.up();
		const watch = await waitFor(() => sent.filter(f => f.op === "watch")[watchesBefore], { what: "a new watch frame" });
		expect((watch.bbox as number[])[0]).toBeGreaterThan(CENTRE.lng);
		const snapshot = await waitFor(() => received.filter(f => f.op === "snapshot")[snapshotsBefore], { what: "a new snapshot" });
		expect((snapshot.cells as string[]).some(c => !lastCells.has(c))).toBe(true);
	});

	it("asks to zoom in when the view is too large to watch, and recovers", async () => {
		for (let i = 0; i < 6; i++) {
			await page.click(".leaflet-control-zoom-out");
			await page.waitForTimeout(300);
		}
		await page.waitForSelector("#banner:not([hidden])");
		expect(await page.textContent("#banner")).toMatch(/^Zoom in to watch vendors live/);
		expect(received.some(f => f.op === "error" && f.code === "TOO_MANY_CELLS")).toBe(true);
		expect(await page.$$(".vendor-marker")).toHaveLength(0);
		for (let i = 0; i < 6; i++) {
			await page.click(".leaflet-control-zoom-in");
			await page.waitForTimeout(300);
		}
		await page.waitForSelector("#banner", { state: "hidden" });
		await page.waitForFunction(() => document.querySelectorAll(".vendor-marker[data-id]").length > 0, null, { timeout: 15_000 });
	});

	it("signs in with the page's session token (Clerk's getToken) and refreshes it over the socket before it expires", async () => {
		const viewer = await browser!.newPage({ viewport: { width: 800, height: 600 } });
		let minted = 0;
		// Clerk's browser SDK stands in as `window.Clerk.session.getToken()`, handing out 3-second tokens.
		await viewer.exposeFunction("mintViewerToken", () => {
			minted++;
			return engine.token("user_map_viewer", 3);
		});
		await viewer.addInitScript(() => {
			const g = globalThis as unknown as { Clerk: unknown; mintViewerToken(): Promise<string> };
			g.Clerk = { session: { getToken: () => g.mintViewerToken() } };
		});
		const viewerSockets = async () =>
			(
				await engine.broker.call<{ watchSets: { connId: number; user: string | null }[] }, { sockets: boolean }>("live.stats", {
					sockets: true,
				})
			).watchSets
				.filter(s => s.user === "user_map_viewer")
				.map(s => s.connId);
		try {
			await viewer.goto(`${engine.baseUrl}/#${CENTRE.lat},${CENTRE.lng},16`);
			const [connId] = await waitFor(async () => ((await viewerSockets()).length === 1 ? viewerSockets() : undefined), {
				what: "the page's socket signed in",
			});
			// Three token lifetimes and more: the same socket, still signed in, kept alive by refreshes.
			await new Promise(r => setTimeout(r, 10_000));
			expect(await viewerSockets()).toEqual([connId]);
			expect(minted).toBeGreaterThanOrEqual(3);
		} finally {
			await viewer.close();
		}
	}, 40_000);

	it("shows a dropped connection and reconnects", async () => {
		const routed: Array<{ close(): Promise<void> }> = [];
		// From now on sockets go through a pass-through route the test can cut.
		await page.routeWebSocket(/\/live/, ws => {
			ws.connectToServer();
			routed.push(ws);
		});
		await page.reload();
		await page.waitForSelector('#status[data-state="live"]');
		await waitFor(() => routed.length > 0, { what: "the routed socket" });
		await routed.at(-1)!.close();
		await page.waitForSelector('#status[data-state="reconnecting"]');
		await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
		expect(routed.length).toBeGreaterThanOrEqual(2);
		await page.waitForFunction(() => document.querySelectorAll(".vendor-marker[data-id]").length > 0, null, { timeout: 15_000 });
	});
});
