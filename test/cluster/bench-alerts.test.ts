import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintDevToken } from "../../lib/auth.ts";
import type { AlertsSample } from "../../bench/clients/alerts.ts";
import { driveAlerts, driveCenter, driveOwner, makeAdmin, spreadAlerts, writeAlerts } from "../../bench/lib/alerts-seed.ts";
import { BENCH_SECRET, onboardVendors, sleep, startEngine, type EngineNode } from "../../bench/lib/engine.ts";
import { forkClient } from "../../bench/lib/load.ts";
import { boxAround } from "../../bench/lib/places.ts";
import { fencesLoaded } from "../../bench/stages/alerts.ts";

const LAYOUT = { origin: { lat: 53.87, lng: 10.69 }, radius: 100, spacingM: 300, rowM: 500, perVendor: 3 };
const SPREAD = { city: boxAround(53.55, 9.99, 30_000), region: boxAround(53.55, 9.99, 400_000), cityShare: 0.1, seed: 1 };
const ADMIN = "user_bench_admin";

/** The alerts stage's seeding and its load generator, against the real engine (no timing asserted). */
describe("bench alerts stage", () => {
	const dataDir = mkdtempSync(join(tmpdir(), "venta-bench-alerts-test-"));
	let engine: EngineNode;
	let vendor: { id: string; token: string };

	beforeAll(async () => {
		// First start: the vendor is onboarded and the admin-to-be exists; then the alerts are written while it is stopped.
		const first = await startEngine("bench-alerts-0", { DATA_DIR: dataDir });
		try {
			[vendor] = (await onboardVendors(first.baseUrl, 1, `bat${randomUUID().slice(0, 6)}`, () => {})) as [typeof vendor];
			const admin = await mintDevToken(BENCH_SECRET, ADMIN, 600);
			expect((await fetch(`${first.baseUrl}/api/me`, { headers: { Authorization: `Bearer ${admin}` } })).status).toBe(200);
		} finally {
			await first.proc.stop(20_000);
		}
		await writeAlerts(dataDir, [...spreadAlerts(200, SPREAD, [vendor.id]), ...driveAlerts(LAYOUT, [vendor.id])]);
		expect(await makeAdmin(dataDir, ADMIN)).toBe(1);
		engine = await startEngine("bench-alerts-1", { DATA_DIR: dataDir }, [], 60_000);
	}, 120_000);
	afterAll(async () => {
		await engine?.proc.stop(20_000);
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("the seeded records are alerts the service lists and geo loads (venta_alerts_fences)", async () => {
		await expect.poll(() => fencesLoaded(engine.livePort), { timeout: 30_000 }).toBe(203);
		const owner = await mintDevToken(BENCH_SECRET, driveOwner(0), 600);
		const res = await fetch(`${engine.baseUrl}/api/me/alerts`, { headers: { Authorization: `Bearer ${owner}` } });
		expect(res.status).toBe(200);
		const { rows } = (await res.json()) as { rows: { id: string; kind: string; vendor: unknown; at: unknown }[] };
		expect(rows.map(r => r.id).sort()).toEqual(["alr_bench_d0", "alr_bench_d1", "alr_bench_d2"]);
		expect(rows[0]).toMatchObject({ kind: "vendor_nearby", vendor: { id: vendor.id }, at: driveCenter(LAYOUT, 0, 0) });
	});

	it("a drive across the circles gives one alert frame and one webhook per fresh circle, each timed; a circle re-entered within the minimum interval fires nothing", async () => {
		await expect.poll(() => fencesLoaded(engine.livePort), { timeout: 30_000 }).toBe(203);
		const client = forkClient("alerts", "bench/clients/alerts.ts");
		try {
			const { url } = await client.call<{ url: string }>("receive");
			const admin = await mintDevToken(BENCH_SECRET, ADMIN, 600);
			const created = await fetch(`${engine.baseUrl}/api/admin/webhook-endpoints`, {
				method: "POST",
				headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
				body: JSON.stringify({ url, events: ["location.proximity_alert"] }),
			});
			expect(created.status).toBe(201);
			const path = [0, 1, 2].map(j => driveCenter(LAYOUT, 0, j));
			const customers = [{ token: await mintDevToken(BENCH_SECRET, driveOwner(0), 600) }];
			await client.call("connect", { url: engine.liveUrl, vendors: [{ ...vendor, path }], customers, localAddresses: ["127.0.0.1"] });
			await client.call("drive", { hz: 2 });
			await sleep(2600); // 5 or 6 hops: circles 0, 1, 2, then 0 and 1 again within the minute
			await client.call("drive", { hz: 0 });
			const total = { hops: 0, alerts: 0, alertMs: [] as number[], webhookMs: [] as number[] };
			const add = (s: AlertsSample) => {
				total.hops += s.hops;
				total.alerts += s.alerts;
				total.alertMs.push(...s.alertMs);
				total.webhookMs.push(...s.webhookMs);
				return total.webhookMs.length;
			};
			await expect.poll(async () => add(await client.call<AlertsSample>("sample")), { timeout: 15_000, interval: 300 }).toBe(3);
			await sleep(1500); // nothing more arrives
			add(await client.call<AlertsSample>("sample"));
			expect(total.hops).toBeGreaterThanOrEqual(4);
			expect(total.alerts).toBe(3);
			expect(total.alertMs).toHaveLength(3);
			expect(total.webhookMs).toHaveLength(3);
			for (const ms of [...total.alertMs, ...total.webhookMs]) expect(ms).toBeGreaterThan(0);
			await client.call("close");
		} finally {
			await client.close();
		}
	}, 60_000);
});
