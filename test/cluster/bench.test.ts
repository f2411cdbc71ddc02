import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { latLngToCell } from "h3-js";
import { startWsBaseline } from "../../bench/servers/ws-baseline.ts";
import { startBareUws } from "../../bench/servers/uws-bare.ts";
import type { BaselineServer } from "../../bench/servers/ws-baseline.ts";
import { buildScenario } from "../../bench/lib/geometry.ts";
import { bboxCells, type BBox } from "../../bench/servers/cells.ts";
import { boxAround, boxesInside, placesInBox, vendorIdsInCells } from "../../bench/lib/places.ts";
import { checkRouting, checkSnapshots, deliveryTotal, isShort, type NodeRouting } from "../../bench/lib/checks.ts";
import { buildClusterScenario } from "../../bench/lib/cluster-scenario.ts";
import { routingCell } from "../../gateways/live/cells.ts";
import { forkClient } from "../../bench/lib/load.ts";
import type { SnapshotRecord, WatchersSample } from "../../bench/clients/watchers.ts";
import type { VendorsSample } from "../../bench/clients/vendors.ts";
import { cellsForBBox } from "../../gateways/live/cells.ts";
import { freePort } from "../helpers/ports.ts";

/** A client that collects every frame it receives. */
async function open(url: string): Promise<{ ws: WebSocket; frames: any[]; next(op: string): Promise<any> }> {
	const ws = new WebSocket(url);
	const frames: any[] = [];
	const waiters: { op: string; resolve: (f: any) => void }[] = [];
	ws.on("message", data => {
		const frame = JSON.parse(data.toString());
		frames.push(frame);
		const i = waiters.findIndex(w => w.op === frame.op);
		if (i >= 0) waiters.splice(i, 1)[0]!.resolve(frame);
	});
	await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
	return {
		ws,
		frames,
		next: op => {
			const take = (f: (typeof frames)[number]) => {
				f.taken = true;
				return f;
			};
			const seen = frames.find(f => f.op === op && !f.taken);
			if (seen) return Promise.resolve(take(seen));
			return new Promise(resolve => waiters.push({ op, resolve: f => resolve(take(f)) }));
		},
	};
}

const LAT = 52.52;
const LNG = 13.405;
const CELL = latLngToCell(LAT, LNG, 8);
/** A 3 km box around LAT/LNG (the rush-hour watch), two vendors inside it and one 20 km away. */
const BOX = boxAround(LAT, LNG, 3000);
const [INSIDE_A, INSIDE_B] = placesInBox(boxAround(LAT, LNG, 2000), 2, 1);
const OUTSIDE = { lat: LAT + 0.18, lng: LNG };

/** Vendors v-a and v-b inside BOX and v-far outside it send one position each; resolves once the server has them. */
async function vendorsAroundBox(url: string, positionsIn: () => number) {
	const sockets = await Promise.all(
		[
			["v-a", INSIDE_A!],
			["v-b", INSIDE_B!],
			["v-far", OUTSIDE],
		].map(async ([id, p]) => {
			const vendor = await open(`${url}?vendor=${id}`);
			const { lat, lng } = p as { lat: number; lng: number };
			vendor.ws.send(JSON.stringify({ op: "pos", lat, lng, ts: Date.now() }));
			return vendor.ws;
		})
	);
	await expect.poll(positionsIn).toBe(3);
	return sockets;
}

/** A bbox watch is answered with the box's cells (the engine's own set for it) and the vendors in them. */
async function expectBBoxSnapshot(url: string) {
	const watcher = await open(url);
	watcher.ws.send(JSON.stringify({ op: "watch", bbox: BOX }));
	const snapshot = await watcher.next("snapshot");
	expect([...snapshot.cells].sort()).toEqual([...cellsForBBox(BOX, 8, 2000)].sort());
	expect(snapshot.vendors.map((v: { id: string }) => v.id).sort()).toEqual(["v-a", "v-b"]);
	expect(snapshot.vendors.find((v: { id: string }) => v.id === "v-a")).toMatchObject({
		lat: INSIDE_A!.lat,
		lng: INSIDE_A!.lng,
		cell: INSIDE_A!.cell,
	});
	return watcher;
}

describe("bench ws baseline speaks the live protocol", () => {
	let server: BaselineServer;
	let url: string;
	beforeAll(async () => {
		server = await startWsBaseline(await freePort());
		url = `ws://127.0.0.1:${server.port}/live`;
	});
	let before = 0;
	beforeEach(() => {
		before = server.stats().positionsIn;
	});
	afterAll(() => server.close());

	it("answers watch with a snapshot of the vendors inside, streams pos, and gone when the vendor leaves", async () => {
		const vendor = await open(`${url}?vendor=v1`);
		vendor.ws.send(JSON.stringify({ op: "pos", lat: LAT, lng: LNG, ts: Date.now() }));
		await expect.poll(() => server.stats().positionsIn).toBe(1);

		const watcher = await open(url);
		watcher.ws.send(JSON.stringify({ op: "watch", cells: [CELL] }));
		const snapshot = await watcher.next("snapshot");
		expect(snapshot.cells).toEqual([CELL]);
		expect(snapshot.vendors).toMatchObject([{ id: "v1", lat: LAT, lng: LNG, cell: CELL }]);

		vendor.ws.send(JSON.stringify({ op: "pos", lat: LAT + 0.0001, lng: LNG, ts: Date.now(), hdg: 42.5 }));
		expect(await watcher.next("pos")).toMatchObject({ op: "pos", id: "v1", lat: LAT + 0.0001, lng: LNG, cell: CELL, hdg: 42.5 });

		vendor.ws.close();
		expect(await watcher.next("gone")).toEqual(expect.objectContaining({ op: "gone", id: "v1", cell: CELL }));
		watcher.ws.close();
	});

	it("answers a bbox watch with a snapshot of the vendors in the box's cells", async () => {
		const vendors = await vendorsAroundBox(url, () => server.stats().positionsIn - before);
		const watcher = await expectBBoxSnapshot(url);
		for (const ws of [...vendors, watcher.ws]) ws.close();
	});

	it("refuses bad frames with an error and keeps the socket open", async () => {
		const client = await open(url);
		client.ws.send("{not json");
		expect(await client.next("error")).toMatchObject({ code: "BAD_REQUEST" });
		client.ws.send(JSON.stringify({ op: "watch", cells: ["nope"] }));
		expect(await client.next("error")).toMatchObject({ code: "BAD_REQUEST" });
		client.ws.send(JSON.stringify({ op: "watch", bbox: [13.5, 52.5, 13.4, 52.6] }));
		expect(await client.next("error")).toMatchObject({ code: "BAD_REQUEST" });
		client.ws.send(JSON.stringify({ op: "ping" }));
		await client.next("pong");
		client.ws.close();
	});
});

describe("bench bare uWS ceiling", () => {
	let server: BaselineServer;
	let url: string;
	beforeAll(async () => {
		server = await startBareUws(await freePort());
		url = `ws://127.0.0.1:${server.port}/live`;
	});
	afterAll(() => server.close());

	it("subscribes a watcher to its cells, publishes each vendor pos to the cell's topic, and gone when the vendor leaves", async () => {
		const watcher = await open(url);
		watcher.ws.send(JSON.stringify({ op: "watch", cells: [CELL] }));
		expect(await watcher.next("snapshot")).toMatchObject({ cells: [CELL], vendors: [] });
		const vendor = await open(`${url}?vendor=v9`);
		vendor.ws.send(JSON.stringify({ op: "pos", lat: LAT, lng: LNG, ts: 1, hdg: 7 }));
		expect(await watcher.next("pos")).toMatchObject({ id: "v9", cell: CELL, ts: 1, hdg: 7 });
		expect(server.stats()).toMatchObject({ positionsIn: 1, deliveries: 1 });

		// A later watch of the same cell is answered from the map.
		const late = await open(url);
		late.ws.send(JSON.stringify({ op: "watch", cells: [CELL] }));
		expect((await late.next("snapshot")).vendors).toMatchObject([{ id: "v9", lat: LAT, lng: LNG, cell: CELL, ts: 1 }]);

		vendor.ws.close();
		expect(await watcher.next("gone")).toMatchObject({ id: "v9", cell: CELL });
		for (const ws of [watcher.ws, late.ws]) ws.close();
	});

	it("answers a bbox watch with a snapshot of the vendors in the box's cells", async () => {
		const before = server.stats().positionsIn;
		const vendors = await vendorsAroundBox(url, () => server.stats().positionsIn - before);
		const watcher = await expectBBoxSnapshot(url);
		for (const ws of [...vendors, watcher.ws]) ws.close();
	});
});

describe("bench rush-hour opening", () => {
	it("times each watcher's watch → snapshot and records the vendors in it (watchers client against the ws baseline)", async () => {
		const server = await startWsBaseline(await freePort());
		const url = `ws://127.0.0.1:${server.port}/live`;
		const client = forkClient("watchers", "bench/clients/watchers.ts");
		try {
			const vendors = await vendorsAroundBox(url, () => server.stats().positionsIn);
			const far: BBox = boxAround(OUTSIDE.lat, OUTSIDE.lng, 1000);
			await client.call("connect", {
				url,
				watches: [{ bbox: BOX }, { bbox: far }, { cells: [INSIDE_A!.cell] }],
				localAddresses: ["127.0.0.1"],
				sampleEvery: 1e9,
				concurrency: 3,
				recordSnapshots: true,
			});
			const records = await client.call<SnapshotRecord[]>("snapshots", { timeoutMs: 10_000 });
			expect(records.map(r => [...(r.vendorIds ?? [])].sort())).toEqual([["v-a", "v-b"], ["v-far"], ["v-a"]]);
			for (const r of records) expect(r.snapshotMs).toBeGreaterThanOrEqual(0);
			const placed = [
				{ id: "v-a", cell: INSIDE_A!.cell },
				{ id: "v-b", cell: INSIDE_B!.cell },
				{ id: "v-far", cell: latLngToCell(OUTSIDE.lat, OUTSIDE.lng, 8) },
			];
			const expected = [bboxCells(BOX, 8), bboxCells(far, 8), [INSIDE_A!.cell]].map(cells => vendorIdsInCells(placed, cells));
			expect(checkSnapshots(expected, records).complete).toBe(true);
			for (const ws of vendors) ws.close();
		} finally {
			await client.close();
			await server.close();
		}
	});
});

describe("bench completeness checks", () => {
	const record = (vendorIds: string[] | null): SnapshotRecord => ({ watchSentAt: 0, snapshotMs: vendorIds ? 1 : null, vendorIds });

	it("counts a round only when every watcher got exactly the vendors of its box", () => {
		const expected = [["a", "b"], ["c"], []];
		expect(checkSnapshots(expected, [record(["b", "a"]), record(["c"]), record([])])).toMatchObject({ complete: true, exact: 3 });
		// A snapshot missing, one short of a vendor, one with a vendor from elsewhere.
		expect(checkSnapshots(expected, [record(["a", "b"]), record(null), record([])])).toMatchObject({
			complete: false,
			snapshots: 2,
			missingVendors: 1,
		});
		expect(checkSnapshots(expected, [record(["a"]), record(["c"]), record([])])).toMatchObject({ complete: false, missingVendors: 1 });
		expect(checkSnapshots(expected, [record(["a", "b"]), record(["c", "x"]), record([])])).toMatchObject({
			complete: false,
			unexpectedVendors: 1,
		});
		expect(checkSnapshots(expected, [record(["a", "b"]), record(["c"])]).complete).toBe(false);
	});

	it("marks deliveries short below 99% of what the sent positions should fan out to", () => {
		const full = deliveryTotal([
			{ delivered: 1000, expected: 1000 },
			{ delivered: 995, expected: 1000 },
		]);
		expect(isShort(full)).toBe(false);
		const short = deliveryTotal([
			{ delivered: 1000, expected: 1000 },
			{ delivered: 900, expected: 1000 },
		]);
		expect(short.ratio).toBe(0.95);
		expect(isShort(short)).toBe(true);
		expect(isShort(deliveryTotal([]))).toBe(true);
	});
});

describe("bench scenario", () => {
	it("watches every vendor's cell by the same number of watchers", () => {
		const s = buildScenario({ vendors: 200, watchers: 1000, vendorsPerCell: 2, cellsPerWatcher: 5 });
		expect(s.fanOut).toBe(50);
		expect(s.vendorsPerWatcher).toBe(10);
		expect(new Set(s.vendors.map(v => v.cell)).size).toBe(100);
		for (const v of s.vendors) expect(latLngToCell(v.lat, v.lng, 8)).toBe(v.cell);
		expect(() => buildScenario({ vendors: 200, watchers: 999, vendorsPerCell: 2, cellsPerWatcher: 5 })).toThrow(/divide/);
	});

	it("places vendors inside their box, away from cell edges, and watch boxes inside their area", () => {
		const area = boxAround(48.137, 11.575, 6000);
		const places = placesInBox(area, 200, 7);
		expect(placesInBox(area, 200, 7)).toEqual(places);
		for (const p of places) {
			expect(p.lng).toBeGreaterThanOrEqual(area[0]);
			expect(p.lat).toBeGreaterThanOrEqual(area[1]);
			expect(p.lng).toBeLessThanOrEqual(area[2]);
			expect(p.lat).toBeLessThanOrEqual(area[3]);
			// The vendors client jitters by up to ±0.000025°: the cell stays the same.
			for (const [dLat, dLng] of [
				[0.000025, 0.000025],
				[-0.000025, -0.000025],
			])
				expect(latLngToCell(p.lat + dLat!, p.lng + dLng!, 8)).toBe(p.cell);
		}
		const boxes = boxesInside(area, 50, 3000, 1);
		for (const [w, s, e, n] of boxes) {
			expect(w).toBeGreaterThanOrEqual(area[0] - 1e-4);
			expect(s).toBeGreaterThanOrEqual(area[1]);
			expect(e).toBeLessThanOrEqual(area[2] + 1e-4);
			expect(n).toBeLessThanOrEqual(area[3]);
		}
		const all = vendorIdsInCells(
			places.map((p, i) => ({ id: `v${i}`, cell: p.cell })),
			bboxCells(area, 8)
		);
		expect(all).toHaveLength(200);
	});
});

describe("bench cluster stage", () => {
	const node = (watchedShare: number, produced: number, routedIn = produced, watchers = [{ delivered: produced, expected: produced }]) =>
		({ watchedShare, produced, routedIn, watchers }) satisfies NodeRouting;

	it("builds disjoint areas of whole routing cells with the same vendors each, interleaved by routing cell", () => {
		const s = buildClusterScenario({
			routingCellsPerNode: [1, 2, 3],
			unwatchedRoutingCells: 2,
			cellsPerRoutingCell: 5,
			vendorsPerCell: 2,
			watchersPerRoutingCell: 3,
		});
		const routingCells = s.areas.flatMap(a => a.routingCells);
		expect(new Set(routingCells).size).toBe(8);
		expect(s.vendors).toHaveLength(8 * 5 * 2);
		for (const v of s.vendors) {
			expect(latLngToCell(v.lat, v.lng, 8)).toBe(v.cell);
			expect(routingCell(v.cell, 8)).toBe(v.routingCell);
		}
		// Every run of 8 consecutive vendors holds one of each routing cell (the vendors client spreads send times by index).
		for (let k = 0; k < s.vendors.length; k += 8) expect(new Set(s.vendors.slice(k, k + 8).map(v => v.routingCell)).size).toBe(8);
		expect(s.watches.map(w => w.length)).toEqual([3, 6, 9]);
		s.watches.forEach((ws, i) => {
			for (const w of ws) {
				expect(s.areas[i]!.routingCells).toContain(w.routingCell);
				for (const cell of w.cells) expect(routingCell(cell, 8)).toBe(w.routingCell);
			}
		});
		expect(s.watchedCells).toEqual([5, 10, 15]);
		expect(s.watchedShare).toEqual([1 / 8, 2 / 8, 3 / 8]);
	});

	it("passes routed-in proportional to the watched share, every node getting its own cells' positions and every watcher all of them", () => {
		const check = checkRouting([node(0.1, 100), node(0.2, 200), node(0.3, 300)], 1000);
		expect(check.complete).toBe(true);
		expect(check.maxDeviation).toBeCloseTo(0, 9);
		expect(check.correlation).toBeCloseTo(1, 9);
		expect(check.nodes.map(n => n.share)).toEqual([0.1, 0.2, 0.3]);
	});

	it("fails on short routing, a short watcher, duplicates, a node that gets others' traffic, or nothing measured", () => {
		const short = checkRouting([node(0.1, 100), node(0.2, 200, 190)], 1000);
		expect(short.complete).toBe(false);
		expect(short.nodes[1]!.routedRatio).toBe(0.95);
		const watcherShort = checkRouting(
			[
				node(0.1, 100, 100, [
					{ delivered: 100, expected: 100 },
					{ delivered: 90, expected: 100 },
				]),
			],
			1000
		);
		expect(watcherShort).toMatchObject({ complete: false, nodes: [{ shortWatchers: 1, overWatchers: 0 }] });
		const duplicated = checkRouting([node(0.1, 100, 100, [{ delivered: 120, expected: 100 }])], 1000);
		expect(duplicated).toMatchObject({ complete: false, nodes: [{ overWatchers: 1 }] });
		// Broadcast: every node receives every position.
		const broadcast = checkRouting([node(0.1, 100, 1000), node(0.2, 200, 1000)], 1000);
		expect(broadcast.complete).toBe(false);
		expect(broadcast.maxDeviation).toBe(9);
		expect(checkRouting([node(0.1, 0, 0, [{ delivered: 0, expected: 0 }])], 0).complete).toBe(false);
		expect(checkRouting([], 0).complete).toBe(false);
	});

	it("counts positions sent per vendor group and frames received per watcher (the clients against the ws baseline)", async () => {
		const server = await startWsBaseline(await freePort());
		const url = `ws://127.0.0.1:${server.port}/live`;
		const vendors = forkClient("vendors", "bench/clients/vendors.ts");
		const watchers = forkClient("watchers", "bench/clients/watchers.ts");
		try {
			const [far] = placesInBox(boxAround(OUTSIDE.lat, OUTSIDE.lng, 1000), 1, 3);
			const a = INSIDE_A!;
			await vendors.call("connect", {
				url,
				vendors: [
					{ id: "g-a1", lat: a.lat, lng: a.lng, group: "a" },
					{ id: "g-a2", lat: a.lat, lng: a.lng, group: "a" },
					{ id: "g-b1", lat: far!.lat, lng: far!.lng, group: "b" },
				],
				localAddresses: ["127.0.0.1"],
			});
			await vendors.call("announce");
			await expect.poll(() => server.stats().positionsIn).toBe(3);
			await watchers.call("connect", {
				url,
				watches: [{ cells: [a.cell] }, { cells: [far!.cell] }, { cells: [a.cell, far!.cell] }],
				localAddresses: ["127.0.0.1"],
				sampleEvery: 1e9,
			});
			await expect.poll(async () => (await watchers.call<WatchersSample>("sample")).snapshots).toBe(3);
			await vendors.call("announce");
			await vendors.call("announce");
			const got = [0, 0, 0];
			await expect
				.poll(async () => {
					const sample = await watchers.call<WatchersSample>("sample", { perSocket: true });
					sample.posBySocket!.forEach((n, i) => {
						got[i]! += n;
					});
					return got;
				})
				.toEqual([4, 2, 6]);
			expect(await vendors.call<VendorsSample>("sample")).toMatchObject({ sent: 9, sentByGroup: { a: 6, b: 3 } });
			expect((await vendors.call<VendorsSample>("sample")).sentByGroup).toEqual({});
		} finally {
			await Promise.allSettled([vendors.close(), watchers.close()]);
			await server.close();
		}
	});
});
