import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { buildWeb } from "../../scripts/build-web.ts";
import { startTestEngine, type TestEngine } from "../helpers/engine.ts";
import { startSimulator, type Simulator } from "../helpers/simulator.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipped: the alerts page test needs ${CHROMIUM} (apt-get install chromium)`);

const CENTRE = { lat: 52.518, lng: 13.4 };
const BBOX = [13.38, 52.51, 13.42, 52.526] as const;
const CUSTOMER = "user_alerts_page";

/** The callbacks passed to page.evaluate/waitForFunction run in the browser; this file is typed for Node. */
declare const document: { querySelector(selector: string): { textContent: string | null; dataset: Record<string, string> } | null };

/**
 * The "done when": a customer on the map page sets "tell me when a favourite is within
 * 500 m" and sees the alert arrive when the simulator drives that favourite in.
 */
describe.skipIf(!hasChromium)("alerts on the map page", () => {
	let engine: TestEngine;
	let simulator: Simulator | undefined;
	let browser: Browser | undefined;
	beforeAll(async () => {
		await buildWeb();
		engine = await startTestEngine();
		browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
	}, 60_000);
	afterAll(async () => {
		await browser?.close();
		await simulator?.kill("SIGKILL");
		await engine?.stop();
	});

	it("sets a favourite-within-500 m alert and shows it when the simulator drives the favourite in", async () => {
		// 650 m out at 11 m/s: inside 500 m after ~14 s.
		simulator = await startSimulator(engine, {
			vendors: 1,
			bbox: BBOX,
			prefix: "alertpage",
			args: ["--drive-to", `${CENTRE.lat},${CENTRE.lng}`, "--drive-from", "650", "--offline-per-hour", "0"],
		});
		const [vendorId] = await simulator.vendorIds();
		const token = await engine.token(CUSTOMER, 3600);
		const favorite = await fetch(`${engine.baseUrl}/api/me/favorites/${vendorId}`, {
			method: "PUT",
			headers: { Authorization: `Bearer ${token}` },
		});
		expect(favorite.status).toBe(200);

		const page = await browser!.newPage({ viewport: { width: 1000, height: 700 } });
		await page.exposeFunction("mintCustomerToken", () => engine.token(CUSTOMER, 600));
		await page.addInitScript(() => {
			const g = globalThis as unknown as { Clerk: unknown; mintCustomerToken(): Promise<string> };
			g.Clerk = { session: { getToken: () => g.mintCustomerToken() } };
		});
		try {
			await page.goto(`${engine.baseUrl}/#${CENTRE.lat},${CENTRE.lng},16`);
			await page.click("#alerts .add-alert", { timeout: 15_000 });
			// The browser shares no position here, so the alert is around the map's centre.
			await page.waitForSelector("#alerts .alert-list li", { timeout: 10_000 });
			expect(await page.textContent("#alerts .alert-list li")).toContain("a favourite within 500 m");
			await page.waitForSelector("#alerts .alert-feed .fired", { timeout: 45_000 });
			const fired = await page.evaluate(() => document.querySelector("#alerts .alert-feed .fired")!.dataset.vendor);
			expect(fired).toBe(vendorId);
			// Clicking the alert opens that vendor's card, which shows it as a favourite.
			await page.click("#alerts .alert-feed .fired");
			await page.waitForSelector('#vendor-card .favorite[aria-pressed="true"]', { timeout: 10_000 });
		} finally {
			await page.close();
		}
	}, 90_000);

	it("without Clerk on the page, signs in with a pasted session token (kept for the tab) and offers the alert", async () => {
		const page = await browser!.newPage({ viewport: { width: 1000, height: 700 } });
		try {
			await page.goto(`${engine.baseUrl}/#${CENTRE.lat},${CENTRE.lng},16`);
			await page.fill("#alerts .sign-in input", await engine.token("user_alerts_pasted", 600));
			await page.click("#alerts .sign-in button");
			await page.waitForSelector("#alerts .add-alert", { timeout: 15_000 });
			await page.reload();
			await page.waitForSelector("#alerts .add-alert", { timeout: 15_000 });
		} finally {
			await page.close();
		}
	}, 40_000);
});
