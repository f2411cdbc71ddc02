import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { latLngToCell } from "h3-js";
import { buildWeb } from "../../scripts/build-web.ts";
import { connectVendor, type VendorPublisher } from "../../packages/client/src/index.ts";
import { startTestEngine, waitFor, type TestEngine } from "../helpers/engine.ts";
import { activeVendor, LiveClient as RawClient, waitForRoutes } from "../helpers/live.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipped: the demand layer test needs ${CHROMIUM} (apt-get install chromium)`);

const CENTRE = { lat: 52.518, lng: 13.4 };
/** A cell a few hundred metres from the centre, inside the page's view: the test's watchers look at it. */
const BUSY = { lat: 52.519, lng: 13.404 };
const BUSY_CELL = latLngToCell(BUSY.lat, BUSY.lng, 8);
const WATCHERS = 3;
const VENDOR_OWNER = "user_demand_vendor";
const CUSTOMER = "user_demand_customer";

/** The callbacks passed to page.evaluate run in the browser; this file is typed for Node. */
declare const document: {
	querySelectorAll(selector: string): ArrayLike<{ dataset: Record<string, string> }> & Iterable<{ dataset: Record<string, string> }>;
};

/** The map page's demand layer: a vendor account sees where customers watch; customers see no such thing. */
describe.skipIf(!hasChromium)("demand layer on the map page", () => {
	let engine: TestEngine;
	let browser: Browser | undefined;
	let vendor: VendorPublisher | undefined;
	let gps: ReturnType<typeof setInterval> | undefined;
	const watchers: RawClient[] = [];

	beforeAll(async () => {
		await buildWeb();
		// 2: the page's own socket (one watcher of every cell in view) stays under it; BUSY_CELL's watchers do not.
		engine = await startTestEngine({ DEMAND_MIN_COUNT: "2" });
		await waitForRoutes(engine.baseUrl);
		const id = await activeVendor(engine.baseUrl, await engine.token(VENDOR_OWNER), "Demand Cart");
		vendor = connectVendor({ url: engine.liveUrl, vendor: id, getToken: () => engine.token(VENDOR_OWNER) });
		gps = setInterval(() => vendor!.publish(CENTRE), 1_000);
		await waitFor(
			async () => ((await (await fetch(`${engine.baseUrl}/api/vendors/${id}/location`)).json()) as { online: boolean }).online,
			{ what: "the vendor online in the city" }
		);
		for (let i = 0; i < WATCHERS; i++) {
			const w = await RawClient.open(engine.liveUrl);
			watchers.push(w);
			await w.watch({ cells: [BUSY_CELL] });
		}
		browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
	}, 60_000);
	afterAll(async () => {
		clearInterval(gps);
		for (const w of watchers) w.close();
		await browser?.close();
		await vendor?.close();
		await engine?.stop();
	});

	/** A page signed in as `user` (Clerk's getToken stands in), not loaded yet. */
	async function signedInPage(user: string): Promise<Page> {
		const page = await browser!.newPage({ viewport: { width: 1000, height: 700 } });
		await page.exposeFunction("mintToken", () => engine.token(user, 600));
		await page.addInitScript(() => {
			const g = globalThis as unknown as { Clerk: unknown; mintToken(): Promise<string> };
			g.Clerk = { session: { getToken: () => g.mintToken() } };
		});
		return page;
	}
	/** `lat,lng,zoom` of the map, in the page's address. */
	const at = (lat: number, lng: number, zoom = 15) => `${engine.baseUrl}/#${lat},${lng},${zoom}`;

	it("draws the watched cell with its count for a vendor account, and hides cells under DEMAND_MIN_COUNT", async () => {
		const page = await signedInPage(VENDOR_OWNER);
		try {
			await page.goto(at(CENTRE.lat, CENTRE.lng));
			await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
			await page.check("#demand-toggle", { timeout: 15_000 });
			await page.waitForSelector(`path.demand-cell[data-cell="${BUSY_CELL}"]`, { timeout: 20_000 });
			const drawn = await page.evaluate(() => [...document.querySelectorAll("path.demand-cell")].map(el => ({ ...el.dataset })));
			// The test's watchers and the page itself: the page watches every cell in view once, hidden at 1.
			expect(drawn).toEqual([{ cell: BUSY_CELL, watchers: String(WATCHERS + 1) }]);
			expect(await page.textContent("#demand-info")).toBe(`1 cell watched, the busiest by ${WATCHERS + 1} (cells under 2 not shown)`);
			await page.uncheck("#demand-toggle");
			await page.waitForSelector("path.demand-cell", { state: "detached" });
		} finally {
			await page.close();
		}
	}, 60_000);

	it("says briefly that demand shows near the vendor's own vendors when the view is elsewhere, and the page goes on", async () => {
		// 30 km west of the vendor: the demand route answers 403 OUTSIDE_OWN_AREA.
		const page = await signedInPage(VENDOR_OWNER);
		try {
			await page.goto(at(CENTRE.lat, CENTRE.lng - 0.45));
			const refused = page.waitForResponse(r => r.url().includes("/api/discovery/demand"));
			await page.check("#demand-toggle", { timeout: 15_000 });
			expect((await refused).status()).toBe(403);
			await waitFor(async () => (await page.textContent("#demand-info"))?.includes("within 10 km of your vendors"), {
				what: "the refusal in the demand line",
			});
			expect(await page.$$("path.demand-cell")).toHaveLength(0);
			await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
		} finally {
			await page.close();
		}
	}, 60_000);

	it("offers no demand toggle to a customer account or an anonymous visitor", async () => {
		const customer = await signedInPage(CUSTOMER);
		try {
			const me = customer.waitForResponse(r => new URL(r.url()).pathname === "/api/me", { timeout: 15_000 });
			await customer.goto(at(CENTRE.lat, CENTRE.lng));
			expect(((await (await me).json()) as { role: string }).role).toBe("customer");
			await customer.waitForSelector("#alerts .add-alert", { timeout: 15_000 });
			expect(await customer.$("#demand-toggle")).toBeNull();
		} finally {
			await customer.close();
		}
		const anonymous = await browser!.newPage({ viewport: { width: 1000, height: 700 } });
		try {
			await anonymous.goto(at(CENTRE.lat, CENTRE.lng));
			await anonymous.waitForSelector("#alerts .sign-in", { timeout: 15_000 });
			expect(await anonymous.$("#demand-toggle")).toBeNull();
		} finally {
			await anonymous.close();
		}
	}, 60_000);
});
