import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import type { ServiceSchema } from "moleculer";
import { deleteRedisKeys, startTestEngine, TEST_REDIS_URL, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { UPDATE_MANY_MAX, type StoredPosition, type UpdateManyItemResult, type VendorLocation } from "../../../services/geo/contract.ts";
import type { DomainEvent } from "../../../lib/events.ts";

const cellAt = (lat: number, lng: number) => latLngToCell(lat, lng, 8);

/** geo.updateMany (the live gateways' group commit) behaves per position exactly like geo.update, on both stores. */
for (const store of ["embedded", "redis"] as const) {
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
			engine = await startTestEngine({ SERVICES: "geo", REDIS_URL: store === "redis" ? TEST_REDIS_URL : undefined }, [recorder]);
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
