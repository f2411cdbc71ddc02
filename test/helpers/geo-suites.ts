/**
 * The geo service's suites, run once per store: on the embedded one in the service tier
 * (test/service/geo), on Redis and on a Redis Cluster in the cluster tier
 * (test/cluster/geo-redis.test.ts, test/cluster/geo-redis-cluster.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import type { ServiceSchema } from "moleculer";
import { deleteRedisKeys, startTestEngine, TEST_REDIS_URL, waitFor, type TestEngine } from "./engine.ts";
import { distanceM } from "../../lib/geo.ts";
import {
	HISTORY_LENGTH,
	LOCATION_EVENT_EVERY_MS,
	UPDATE_MANY_MAX,
	type HeatmapResult,
	type NearbyHit,
	type StoredPosition,
	type UpdateManyItemResult,
	type UpdateResult,
	type VendorLocation,
} from "../../services/geo/contract.ts";
import type { DomainEvent } from "../../lib/events.ts";

export type GeoStoreKind = "embedded" | "redis" | "redis-cluster";

/** REDIS_URL of the store: none, the shared Redis, or the cluster the test file started (asked once it runs). */
const redisUrlOf = (store: GeoStoreKind, clusterUrl?: () => string): string | undefined =>
	store === "redis" ? TEST_REDIS_URL : store === "redis-cluster" ? clusterUrl!() : undefined;

type Seen = { name: string; event: DomainEvent<{ vendorId: string }> };

function recorder(seen: Seen[]): ServiceSchema {
	const record = (name: string) => (ctx: { params: unknown }) => void seen.push({ name, event: ctx.params as Seen["event"] });
	return {
		name: "geo-event-recorder",
		events: {
			"location.vendor_online": record("location.vendor_online"),
			"location.vendor_offline": record("location.vendor_offline"),
			"location.vendor_location_updated": record("location.vendor_location_updated"),
		},
	};
}

const cellAt = (lat: number, lng: number) => latLngToCell(lat, lng, 8);

/** The same behaviour is required of both stores. */
export function geoServiceSuite(store: GeoStoreKind, clusterUrl?: () => string): void {
	describe(`geo service with the ${store} store`, () => {
		let engine: TestEngine;
		const seen: Seen[] = [];
		const call = <T>(action: string, params: object) => engine.broker.call<T, object>(`geo.${action}`, params);
		const update = (vendorId: string, lat: number, lng: number, extra: object = {}) =>
			call<UpdateResult>("update", { vendorId, lat, lng, ...extra });

		beforeAll(async () => {
			engine = await startTestEngine(
				// The short offline window needs a floor rate that still gives two positions in it.
				{ SERVICES: "geo", REDIS_URL: redisUrlOf(store, clusterUrl), VENDOR_OFFLINE_AFTER_S: "1.5" },
				[recorder(seen)]
			);
		});
		afterAll(async () => {
			await engine.stop();
			if (store === "redis") await deleteRedisKeys(`${engine.config.namespace}:geo:*`);
		});

		it("stores the latest position with its H3 cell and reports it online", async () => {
			const result = await update("v-a", 52.52, 13.405, { acc: 5, hdg: 90, spd: 1.5 });
			expect(result).toMatchObject({
				applied: true,
				previous: null,
				location: { vendorId: "v-a", cell: latLngToCell(52.52, 13.405, 8), online: true },
			});
			const got = await call<VendorLocation>("get", { vendorId: "v-a" });
			expect(got).toMatchObject({
				vendorId: "v-a",
				lat: 52.52,
				lng: 13.405,
				acc: 5,
				hdg: 90,
				spd: 1.5,
				online: true,
				cell: latLngToCell(52.52, 13.405, 8),
			});
			expect(await call("get", { vendorId: "nobody" })).toBeNull();
			expect([await call("get", { vendorId: "v-a" }), await call("get", { vendorId: "nobody" })]).toMatchObject([
				{ vendorId: "v-a" },
				null,
			]);
			await waitFor(() => seen.find(s => s.name === "location.vendor_online" && s.event.data.vendorId === "v-a"));
			const online = seen.find(s => s.name === "location.vendor_online")!.event;
			expect(online.context).toEqual({ vendorId: "v-a" });
			expect(online.meta).toMatchObject({ domain: "location", subdomain: "vendor", version: 1 });
		});

		it("drops a position older than the stored one and reports the previous cell on a move", async () => {
			const now = Date.now();
			await update("v-b", 52.5, 13.4, { ts: now });
			expect(await update("v-b", 52.6, 13.6, { ts: now - 500 })).toEqual({ applied: false, reason: "stale" });
			expect(await call<VendorLocation>("get", { vendorId: "v-b" })).toMatchObject({ lat: 52.5, lng: 13.4, ts: now });
			const moved = await update("v-b", 52.51, 13.45, { ts: now + 1 });
			expect(moved).toMatchObject({ applied: true, previous: { cell: latLngToCell(52.5, 13.4, 8), online: true } });
		});

		it("refuses invalid positions with 422 and changes nothing", async () => {
			for (const bad of [
				{ lat: 91, lng: 0 },
				{ lat: 0, lng: "x" },
				{ lat: 0, lng: 0, hdg: 400 },
				{ lat: 0, lng: 0, ts: Date.now() + 60_000 },
			]) {
				await expect(update("v-bad", bad.lat as number, bad.lng as number, bad)).rejects.toMatchObject({
					code: 422,
					type: "VALIDATION_ERROR",
				});
			}
			expect(await call("get", { vendorId: "v-bad" })).toBeNull();
		});

		it("answers nearby with online vendors only, nearest first, with true distances", async () => {
			const center = { lat: 48.8566, lng: 2.3522 };
			const offsets = [0.004, 0.001, 0.009, 0.002, 0.02];
			await Promise.all(offsets.map((d, i) => update(`near-${i}`, center.lat + d, center.lng)));
			const hits = await call<NearbyHit[]>("nearby", { ...center, radius: 1500, limit: 10 });
			expect(hits.map(h => h.vendorId)).toEqual(["near-1", "near-3", "near-0", "near-2"]);
			for (const h of hits) expect(h.distance).toBeCloseTo(distanceM(center.lat, center.lng, h.lat, h.lng), 6);
			expect(hits[0]!.distance).toBeCloseTo(111.2, 0);
			expect((await call<NearbyHit[]>("nearby", { ...center, radius: 1500, limit: 2 })).map(h => h.vendorId)).toEqual(["near-1", "near-3"]);
			await call("setOffline", { vendorId: "near-1" });
			expect((await call<NearbyHit[]>("nearby", { ...center, radius: 1500, limit: 10 })).map(h => h.vendorId)).toEqual([
				"near-3",
				"near-0",
				"near-2",
			]);
			expect(await call("get", { vendorId: "near-1" })).toMatchObject({ online: false });
			await expect(call("nearby", { ...center, radius: -5 })).rejects.toMatchObject({ code: 422 });
		});

		it("agrees with a brute-force scan over many vendors, small radius and large", async () => {
			const center = { lat: 45.4642, lng: 9.19 };
			const spots = Array.from({ length: 120 }, (_, i) => ({
				id: `many-${i}`,
				lat: center.lat + Math.sin(i * 12.9898) * 0.02,
				lng: center.lng + Math.cos(i * 78.233) * 0.03,
			}));
			await Promise.all(spots.map(p => update(p.id, p.lat, p.lng)));
			for (const radius of [300, 1200, 5000]) {
				const expected = spots
					.map(p => ({ id: p.id, d: distanceM(center.lat, center.lng, p.lat, p.lng) }))
					.filter(p => p.d <= radius)
					.sort((a, b) => a.d - b.d)
					.slice(0, 25);
				const hits = await call<NearbyHit[]>("nearby", { ...center, radius, limit: 25 });
				expect(
					hits.map(h => h.vendorId),
					`radius ${radius}`
				).toEqual(expected.map(e => e.id));
				expect(expected.length).toBeGreaterThan(0);
			}
		});

		it("counts live vendors per cell for the heatmap", async () => {
			await update("h-1", 40.7128, -74.006);
			await update("h-2", 40.7129, -74.0061);
			await update("h-3", 40.78, -73.95);
			await update("h-out", 41.5, -74.0);
			const heat = await call<HeatmapResult>("heatmap", { bbox: "-74.1,40.7,-73.9,40.8", res: 7 });
			expect(heat.total).toBe(3);
			const byCell = Object.fromEntries(heat.cells.map(c => [c.cell, c.count]));
			expect(byCell[latLngToCell(40.7128, -74.006, 7)]).toBe(2);
			expect(byCell[latLngToCell(40.78, -73.95, 7)]).toBe(1);
			await call("setOffline", { vendorId: "h-3" });
			expect((await call<HeatmapResult>("heatmap", { bbox: [-74.1, 40.7, -73.9, 40.8] })).total).toBe(2);
			await expect(call("heatmap", { bbox: "1,2,3" })).rejects.toMatchObject({ code: 422 });
			// Across the antimeridian (Fiji): west > east.
			await update("h-fiji-e", -16.95, 179.95);
			await update("h-fiji-w", -16.95, -179.95);
			await update("h-far", -16.95, 170);
			expect((await call<HeatmapResult>("heatmap", { bbox: "179.9,-17,-179.9,-16.9" })).total).toBe(2);
			// Wider than half the globe: New York (3 online) and h-far, not the two just outside it.
			expect((await call<HeatmapResult>("heatmap", { bbox: "-100,-20,175,45", res: 2 })).total).toBe(4);
		});

		it("keeps a bounded history, newest first", async () => {
			const start = Date.now() - 1000;
			for (let i = 0; i < HISTORY_LENGTH + 5; i++) await update("v-hist", 10 + i / 1000, 10, { ts: start + i });
			const history = await call<StoredPosition[]>("history", { vendorId: "v-hist" });
			expect(history).toHaveLength(HISTORY_LENGTH);
			expect(history[0]!.ts).toBe(start + HISTORY_LENGTH + 4);
			expect(history.at(-1)!.ts).toBe(start + 5);
		});

		it("lists online vendors per cell and forgets them when they go offline", async () => {
			await update("c-1", 35.6762, 139.6503);
			const cell = latLngToCell(35.6762, 139.6503, 8);
			expect((await call<StoredPosition[]>("inCells", { cells: [cell] })).map(p => p.vendorId)).toEqual(["c-1"]);
			await update("c-1", 35.7, 139.7);
			expect(await call("inCells", { cells: [cell] })).toEqual([]);
			expect(await call("setOffline", { vendorId: "c-1" })).toEqual({ wasOnline: true, cell: latLngToCell(35.7, 139.7, 8) });
			expect(await call("setOffline", { vendorId: "c-1" })).toEqual({ wasOnline: false, cell: null });
			expect(await call("inCells", { cells: [latLngToCell(35.7, 139.7, 8)] })).toEqual([]);
		});

		it("coalesces location.vendor_location_updated to one event per vendor per window", async () => {
			const updates = () => seen.filter(s => s.name === "location.vendor_location_updated" && s.event.data.vendorId === "v-moving");
			// Moving every 100 ms (staying online) until the first coalesced event arrives.
			let sent = 0;
			const started = Date.now();
			while (updates().length === 0 && Date.now() - started < LOCATION_EVENT_EVERY_MS * 2 + 1000) {
				await update("v-moving", 1 + sent++ / 10_000, 1);
				await new Promise(r => setTimeout(r, 100));
			}
			expect(updates()).toHaveLength(1);
			expect(sent).toBeGreaterThan(5);
			const data = updates()[0]!.event.data as unknown as { lat: number; cell: string; ts: number };
			expect(data).toMatchObject({ vendorId: "v-moving", lng: 1, cell: latLngToCell(data.lat, 1, 8) });
			expect(updates()[0]!.event.meta).toMatchObject({ domain: "location", subdomain: "vendor" });
		}, 15_000);

		it("takes a silent vendor offline after VENDOR_OFFLINE_AFTER_S", async () => {
			await update("v-quiet", -33.8688, 151.2093);
			expect(await call("get", { vendorId: "v-quiet" })).toMatchObject({ online: true });
			await waitFor(async () => (await call<VendorLocation>("get", { vendorId: "v-quiet" }))?.online === false, {
				timeout: 5_000,
				what: "offline expiry",
			});
			expect(await call("nearby", { lat: -33.8688, lng: 151.2093, radius: 100 })).toEqual([]);
			await waitFor(() => seen.find(s => s.name === "location.vendor_offline" && s.event.data.vendorId === "v-quiet"));
			// Coming back is a new online transition.
			expect(await update("v-quiet", -33.8688, 151.2093)).toMatchObject({ applied: true, previous: { online: false } });
		});
	});
}

/** geo.updateMany (the live gateways' group commit) behaves per position exactly like geo.update. */
export function updateManySuite(store: GeoStoreKind, clusterUrl?: () => string): void {
	describe(`geo.updateMany with the ${store} store`, () => {
		let engine: TestEngine;
		const online: string[] = [];
		const recorder: ServiceSchema = {
			name: "update-many-recorder",
			events: {
				"location.vendor_online": (ctx: { params: DomainEvent<{ vendorId: string }> }) => void online.push(ctx.params.data.vendorId),
			},
		};
		const updateMany = (positions: unknown[]) => engine.broker.call<UpdateManyItemResult[], object>("geo.updateMany", { positions });
		const get = (vendorId: string) => engine.broker.call<VendorLocation | null, object>("geo.get", { vendorId });

		beforeAll(async () => {
			engine = await startTestEngine({ SERVICES: "geo", REDIS_URL: redisUrlOf(store, clusterUrl) }, [recorder]);
		});
		afterAll(async () => {
			await engine.stop();
			if (store === "redis") await deleteRedisKeys(`${engine.config.namespace}:geo:*`);
		});

		it("writes a batch of several vendors, one result per position in order", async () => {
			const ts = Date.now();
			const batch = Array.from({ length: 5 }, (_, i) => ({ vendorId: `m-${i}`, lat: 52.5 + i / 100, lng: 13.4, ts, hdg: i * 10 }));
			const results = await updateMany(batch);
			expect(results).toHaveLength(5);
			results.forEach((r, i) => {
				expect(r).toEqual({
					applied: true,
					previous: null,
					location: {
						vendorId: `m-${i}`,
						lat: 52.5 + i / 100,
						lng: 13.4,
						ts,
						hdg: i * 10,
						cell: cellAt(52.5 + i / 100, 13.4),
						online: true,
					},
				});
			});
			for (let i = 0; i < 5; i++)
				expect(await get(`m-${i}`)).toMatchObject({ online: true, lat: 52.5 + i / 100, cell: cellAt(52.5 + i / 100, 13.4) });
			await waitFor(() => batch.every(p => online.includes(p.vendorId)), { what: "vendor_online per vendor" });
			const inCells = await engine.broker.call<StoredPosition[], object>("geo.inCells", { cells: batch.map(p => cellAt(p.lat, p.lng)) });
			expect(inCells.map(p => p.vendorId).sort()).toEqual(batch.map(p => p.vendorId));
		});

		it("refuses invalid positions one by one, writes the others, and changes nothing for the invalid ones", async () => {
			const now = Date.now();
			const results = await updateMany([
				{ vendorId: "ok-1", lat: 48.85, lng: 2.35 },
				{ vendorId: "bad-lat", lat: 91, lng: 0 },
				{ vendorId: "bad-lng", lat: 0, lng: "x" },
				{ vendorId: "bad-hdg", lat: 0, lng: 0, hdg: 400 },
				{ vendorId: "bad-ts", lat: 0, lng: 0, ts: now + 60_000 },
				{ vendorId: "", lat: 0, lng: 0 },
				{ lat: 0, lng: 0 },
				"not an object",
				null,
				{ vendorId: "ok-2", lat: 48.86, lng: 2.36 },
			]);
			expect(results.map(r => (r.applied ? "applied" : r.reason))).toEqual([
				"applied",
				"invalid",
				"invalid",
				"invalid",
				"invalid",
				"invalid",
				"invalid",
				"invalid",
				"invalid",
				"applied",
			]);
			expect(results.slice(1, 9).map(r => (r.applied === false && r.reason === "invalid" ? r.field : null))).toEqual([
				"lat",
				"lng",
				"hdg",
				"ts",
				"vendorId",
				"vendorId",
				"positions",
				"positions",
			]);
			expect(results[1]).toMatchObject({ message: "lat must be a finite number in [-90, 90]" });
			for (const id of ["bad-lat", "bad-lng", "bad-hdg", "bad-ts"]) expect(await get(id)).toBeNull();
			expect(await get("ok-1")).toMatchObject({ online: true, lat: 48.85 });
			expect(await get("ok-2")).toMatchObject({ online: true, lat: 48.86 });
		});

		it("drops a stale position without touching the others of the batch", async () => {
			const ts = Date.now();
			await updateMany([{ vendorId: "s-1", lat: 40.4, lng: -3.7, ts }]);
			const results = await updateMany([
				{ vendorId: "s-1", lat: 40.5, lng: -3.8, ts: ts - 1_000 },
				{ vendorId: "s-2", lat: 40.41, lng: -3.71, ts: ts - 1_000 },
			]);
			expect(results[0]).toEqual({ applied: false, reason: "stale" });
			expect(results[1]).toMatchObject({ applied: true, previous: null });
			expect(await get("s-1")).toMatchObject({ lat: 40.4, lng: -3.7, ts });
			expect(await engine.broker.call<unknown[], object>("geo.history", { vendorId: "s-1" })).toHaveLength(1);
		});

		it("reports the previous cell and online state, so the gateway can announce gone on a cell change", async () => {
			const from = { lat: 41.39, lng: 2.17 };
			const to = { lat: 41.41, lng: 2.19 };
			await updateMany([
				{ vendorId: "c-1", ...from },
				{ vendorId: "c-2", ...from },
			]);
			await engine.broker.call("geo.setOffline", { vendorId: "c-2" });
			const results = await updateMany([
				{ vendorId: "c-1", ...to, ts: Date.now() + 1 },
				{ vendorId: "c-2", ...to, ts: Date.now() + 1 },
			]);
			expect(results[0]).toMatchObject({
				applied: true,
				previous: { cell: cellAt(from.lat, from.lng), online: true },
				location: { cell: cellAt(to.lat, to.lng) },
			});
			expect(results[1]).toMatchObject({ applied: true, previous: { cell: cellAt(from.lat, from.lng), online: false } });
			const left = await engine.broker.call<StoredPosition[], object>("geo.inCells", { cells: [cellAt(from.lat, from.lng)] });
			expect(left.filter(p => p.vendorId === "c-1" || p.vendorId === "c-2")).toEqual([]);
		});

		it("orders a batch with single writes of the same vendor running at the same time", async () => {
			const ts = Date.now();
			const [single, batch] = await Promise.all([
				engine.broker.call<UpdateManyItemResult, object>("geo.update", { vendorId: "q-1", lat: 35.68, lng: 139.76, ts }),
				updateMany([
					{ vendorId: "q-1", lat: 35.69, lng: 139.77, ts: ts + 1 },
					{ vendorId: "q-2", lat: 35.7, lng: 139.78, ts },
				]),
			]);
			// Whichever ran first, the newer position wins and each write saw the other's result.
			expect(batch[0]).toMatchObject({ applied: true });
			expect(single.applied ? 2 : 1).toBe((await engine.broker.call<unknown[], object>("geo.history", { vendorId: "q-1" })).length);
			expect(await get("q-1")).toMatchObject({ lat: 35.69, ts: ts + 1, online: true });
			expect(await get("q-2")).toMatchObject({ lat: 35.7, online: true });
		});

		it("refuses a malformed or oversized batch as a whole with 422", async () => {
			await expect(engine.broker.call("geo.updateMany", { positions: "nope" })).rejects.toMatchObject({
				code: 422,
				type: "VALIDATION_ERROR",
			});
			await expect(engine.broker.call("geo.updateMany", {})).rejects.toMatchObject({ code: 422 });
			const tooMany = Array.from({ length: UPDATE_MANY_MAX + 1 }, (_, i) => ({ vendorId: `big-${i}`, lat: 1, lng: 1 }));
			await expect(updateMany(tooMany)).rejects.toMatchObject({ code: 422 });
			expect(await get("big-0")).toBeNull();
			expect(await updateMany([])).toEqual([]);
		});
	});
}
