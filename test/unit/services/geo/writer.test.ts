import { describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import type { Context } from "moleculer";
import { MemoryGeoStore } from "../../../../services/geo/memory.store.ts";
import { GeoWriter, type Emit, type PositionWatcher } from "../../../../services/geo/writer.ts";

const RES = 8;
const ctx = {} as Context;
/** This suite is about the writes; the fences have their own (test/unit/services/geo/fences/). */
const NO_FENCES: PositionWatcher = { evaluate: () => undefined, offline: async () => undefined };

function writer() {
	const events: { name: string; data: Record<string, unknown> }[] = [];
	const emit: Emit = async (_ctx, name, data) => void events.push({ name, data: data as Record<string, unknown> });
	const store = new MemoryGeoStore(RES);
	return { geo: new GeoWriter({ store, h3Res: RES, maxAgeMs: 60_000, emit, fences: NO_FENCES }), store, events };
}

describe("GeoWriter (every write of the geo service)", () => {
	it("validates and indexes each position, one result per item in order", async () => {
		const { geo } = writer();
		const now = Date.now();
		const results = await geo.writeMany(
			ctx,
			[
				{ vendorId: "ven_a", lat: 52.52, lng: 13.405, ts: now },
				{ vendorId: "x y", lat: 0, lng: 0 },
				{ vendorId: "ven_b", lat: 95, lng: 0 },
				7,
			],
			now
		);
		expect(results.map(r => (r.applied ? r.location.cell : r.reason === "invalid" ? r.field : r.reason))).toEqual([
			latLngToCell(52.52, 13.405, RES),
			"vendorId",
			"lat",
			"positions",
		]);
	});

	it("keeps the cell a live gateway's batch computed, and computes it for a single write", async () => {
		const { geo } = writer();
		const now = Date.now();
		const streamedIn = latLngToCell(52.52, 13.405, RES);
		const [batched] = await geo.writeMany(ctx, [{ vendorId: "ven_c", lat: 52.52, lng: 13.405, ts: now, cell: streamedIn }], now);
		expect(batched).toMatchObject({ applied: true, location: { cell: streamedIn } });
		// A single write (the REST path) never takes a cell from its input.
		const single = await geo.writeOne(ctx, { vendorId: "ven_d", lat: 48.85, lng: 2.35, ts: now, cell: streamedIn }, now);
		expect(single).toMatchObject({ applied: true, location: { cell: latLngToCell(48.85, 2.35, RES) } });
	});

	it("announces online once per transition, offline once, and coalesces location updates until a flush", async () => {
		const { geo, events } = writer();
		const now = Date.now();
		await geo.writeOne(ctx, { vendorId: "ven_a", lat: 52.52, lng: 13.405, ts: now - 2 }, now);
		await geo.writeOne(ctx, { vendorId: "ven_a", lat: 52.53, lng: 13.42, ts: now - 1 }, now);
		expect(events.map(e => e.name)).toEqual(["location.vendor_online"]);
		geo.flushLocationEvents();
		geo.flushLocationEvents();
		expect(events.map(e => e.name)).toEqual(["location.vendor_online", "location.vendor_location_updated"]);
		expect(events[1]!.data).toMatchObject({ vendorId: "ven_a", lat: 52.53 });
		expect(await geo.takeOffline(ctx, "ven_a")).toMatchObject({ vendorId: "ven_a" });
		expect(await geo.takeOffline(ctx, "ven_a")).toBeNull();
		expect(events.slice(2)).toEqual([
			{ name: "location.vendor_offline", data: { vendorId: "ven_a", cell: latLngToCell(52.53, 13.42, RES), lastTs: now - 1 } },
		]);
	});

	it("keeps a vendor's writes in arrival order across a batch and single writes", async () => {
		const { geo, store } = writer();
		const now = Date.now();
		const batch = geo.writeMany(ctx, [{ vendorId: "ven_a", lat: 1, lng: 1, ts: now - 3 }], now);
		const single = geo.writeOne(ctx, { vendorId: "ven_a", lat: 2, lng: 2, ts: now - 2 }, now);
		const second = geo.writeMany(ctx, [{ vendorId: "ven_a", lat: 3, lng: 3, ts: now - 1 }], now);
		await Promise.all([batch, single, second]);
		expect((await store.history("ven_a")).map(p => p.lat)).toEqual([3, 2, 1]);
	});

	it("takes silent vendors offline, and only those", async () => {
		const { geo, store } = writer();
		const now = Date.now();
		await geo.writeMany(ctx, [{ vendorId: "ven_quiet", lat: 1, lng: 1, ts: now }], now);
		await geo.expireSilent(Date.now() - 60_000, 10);
		expect(await store.get("ven_quiet")).toMatchObject({ online: true });
		await geo.expireSilent(Date.now() + 1, 10);
		expect(await store.get("ven_quiet")).toMatchObject({ online: false });
	});
});
