import { describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import type { StoredPosition } from "../../../../services/geo/contract.ts";
import { MemoryGeoStore } from "../../../../services/geo/memory.store.ts";

const RES = 8;
const at = (vendorId: string, lat: number, lng: number, ts: number): StoredPosition => ({
	vendorId,
	lat,
	lng,
	ts,
	cell: latLngToCell(lat, lng, RES),
});

/** The embedded store on its own; the geo suites run the same behaviour through the service on both stores. */
describe("MemoryGeoStore batch writes", () => {
	it("applies a batch in order, one result each: new, moved, stale", async () => {
		const store = new MemoryGeoStore(RES);
		const first = at("v1", 52.52, 13.405, 1000);
		const moved = at("v1", 52.53, 13.42, 2000);
		const stale = at("v1", 52.52, 13.405, 1500);
		const other = at("v2", 48.137, 11.575, 1000);
		expect(await store.applyMany([first, other, moved, stale], 5000, 10)).toEqual([
			{ applied: true, previous: null },
			{ applied: true, previous: null },
			{ applied: true, previous: { cell: first.cell, online: true } },
			{ applied: false, reason: "stale" },
		]);
		expect(await store.get("v1")).toEqual({ ...moved, online: true });
		expect(await store.inCells([first.cell])).toEqual([]);
		expect(await store.inCells([moved.cell, other.cell])).toEqual([moved, other]);
		expect((await store.history("v1")).map(p => p.ts)).toEqual([2000, 1000]);
	});

	it("keeps the history bounded and takes a vendor offline only when it was seen early enough", async () => {
		const store = new MemoryGeoStore(RES);
		await store.applyMany(
			[1, 2, 3, 4].map(ts => at("v1", 52.52, 13.405, ts)),
			100,
			3
		);
		expect((await store.history("v1")).map(p => p.ts)).toEqual([4, 3, 2]);
		expect(await store.expired(99, 10)).toEqual([]);
		expect(await store.expired(100, 10)).toEqual(["v1"]);
		expect(await store.setOffline("v1", 99)).toBeNull();
		expect(await store.setOffline("v1", 100)).toMatchObject({ vendorId: "v1", ts: 4 });
		expect(await store.setOffline("v1")).toBeNull();
		expect(await store.get("v1")).toMatchObject({ online: false });
		expect(await store.inCells([latLngToCell(52.52, 13.405, RES)])).toEqual([]);
		// Back online: a new transition, from the offline state.
		expect(await store.apply(at("v1", 52.52, 13.405, 5), 200, 3)).toEqual({
			applied: true,
			previous: { cell: latLngToCell(52.52, 13.405, RES), online: false },
		});
	});

	it("finds the nearest online vendors within a radius, nearest first", async () => {
		const store = new MemoryGeoStore(RES);
		await store.applyMany([at("near", 52.5201, 13.405, 1), at("mid", 52.525, 13.405, 1), at("far", 52.6, 13.405, 1)], 1, 5);
		const hits = await store.nearby(52.52, 13.405, 1_000, 10);
		expect(hits.map(h => h.vendorId)).toEqual(["near", "mid"]);
		expect(hits[0]!.distance).toBeLessThan(hits[1]!.distance);
		expect((await store.nearby(52.52, 13.405, 1_000, 1)).map(h => h.vendorId)).toEqual(["near"]);
	});
});
