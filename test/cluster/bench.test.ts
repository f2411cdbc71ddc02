import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { latLngToCell } from "h3-js";
import { startWsBaseline } from "../../bench/servers/ws-baseline.ts";
import { startBareUws } from "../../bench/servers/uws-bare.ts";
import type { BaselineServer } from "../../bench/servers/ws-baseline.ts";
import { buildScenario } from "../../bench/lib/geometry.ts";
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

describe("bench ws baseline speaks the live protocol", () => {
	let server: BaselineServer;
	let url: string;
	beforeAll(async () => {
		server = await startWsBaseline(await freePort());
		url = `ws://127.0.0.1:${server.port}/live`;
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

	it("refuses bad frames with an error and keeps the socket open", async () => {
		const client = await open(url);
		client.ws.send("{not json");
		expect(await client.next("error")).toMatchObject({ code: "BAD_REQUEST" });
		client.ws.send(JSON.stringify({ op: "watch", cells: ["nope"] }));
		expect(await client.next("error")).toMatchObject({ code: "BAD_REQUEST" });
		client.ws.send(JSON.stringify({ op: "ping" }));
		await client.next("pong");
		client.ws.close();
	});
});

describe("bench bare uWS ceiling", () => {
	it("subscribes a watcher to its cells and publishes each vendor pos to the cell's topic", async () => {
		const server = await startBareUws(await freePort());
		try {
			const url = `ws://127.0.0.1:${server.port}/live`;
			const watcher = await open(url);
			watcher.ws.send(JSON.stringify({ op: "watch", cells: [CELL] }));
			expect(await watcher.next("snapshot")).toMatchObject({ cells: [CELL] });
			const vendor = await open(`${url}?vendor=v9`);
			vendor.ws.send(JSON.stringify({ op: "pos", lat: LAT, lng: LNG, ts: 1, hdg: 7 }));
			expect(await watcher.next("pos")).toMatchObject({ id: "v9", cell: CELL, ts: 1, hdg: 7 });
			expect(server.stats()).toMatchObject({ positionsIn: 1, deliveries: 1 });
			vendor.ws.close();
			watcher.ws.close();
		} finally {
			await server.close();
		}
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
});
