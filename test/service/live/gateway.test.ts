import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { AS_OPERATOR, startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient, metricValue, waitForRoutes } from "../../helpers/live.ts";
import { CLOSE_CODES } from "../../../gateways/live/protocol/codes.ts";
import type { VendorLocation } from "../../../services/geo/contract.ts";
import type { LiveStats } from "../../../gateways/live/contract.ts";

const RES = 8;
const cellAt = (lat: number, lng: number) => latLngToCell(lat, lng, RES);
const A = { lat: 52.52, lng: 13.405 };
const B = { lat: 52.53, lng: 13.45 };

describe("live gateway on one node", () => {
	let engine: TestEngine;
	let ownerToken: string;
	let otherToken: string;
	const open: LiveClient[] = [];
	const connect = async (query = "", headers: Record<string, string> = {}) => {
		const client = await LiveClient.open(`${engine.liveUrl}${query}`, headers);
		open.push(client);
		return client;
	};
	const vendorSocket = async (vendorId: string, token = ownerToken) => {
		const client = await LiveClient.openAnswering(`${engine.liveUrl}?token=${token}&vendor=${vendorId}`);
		open.push(client);
		return client;
	};
	const liveHttp = (path: string) => fetch(`http://127.0.0.1:${engine.config.livePort}${path}`);
	const metrics = async () => (await liveHttp("/metrics")).text();

	beforeAll(async () => {
		// A floor that keeps a vendor nobody watches online within the short VENDOR_OFFLINE_AFTER_S.
		engine = await startTestEngine({ VENDOR_OFFLINE_AFTER_S: "2", POSITION_MAX_HZ: "5", WATCH_MAX_CELLS: "500" });
		await waitForRoutes(engine.baseUrl);
		ownerToken = await engine.token("user_live_owner");
		otherToken = await engine.token("user_live_other");
	});
	afterAll(async () => {
		for (const c of open) c.close();
		await engine.stop();
	});

	it("streams a snapshot, then positions with the right cell", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const watcher = await connect();
		const snapshot = await watcher.watch({ cells: [cellAt(A.lat, A.lng)] });
		expect(snapshot).toEqual({ op: "snapshot", cells: [cellAt(A.lat, A.lng)], vendors: [] });

		const vendor = await vendorSocket(vendorId);
		const ts = Date.now();
		vendor.send({ op: "pos", ...A, ts, acc: 4, hdg: 180, spd: 2 });
		expect(await watcher.nextOp("pos")).toEqual({ op: "pos", id: vendorId, ...A, cell: cellAt(A.lat, A.lng), ts, hdg: 180, spd: 2 });

		// A later watcher of the same area finds the vendor in its snapshot.
		const late = await connect();
		const lateSnapshot = await late.watch({ near: { ...A, radius: 300 } });
		expect(lateSnapshot.vendors).toEqual([{ id: vendorId, ...A, cell: cellAt(A.lat, A.lng), ts, hdg: 180, spd: 2 }]);
		expect((lateSnapshot.cells as string[]).length).toBeGreaterThan(3);
		vendor.close();
		await watcher.nextOp("gone");
	});

	it("announces gone on the old cell when a vendor moves, pos on the new one", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const oldCellWatcher = await connect();
		await oldCellWatcher.watch({ cells: [cellAt(A.lat, A.lng)] });
		const newCellWatcher = await connect();
		await newCellWatcher.watch({ cells: [cellAt(B.lat, B.lng)] });
		const vendor = await vendorSocket(vendorId);
		vendor.send({ op: "pos", ...A });
		await oldCellWatcher.nextOp("pos");
		await new Promise(r => setTimeout(r, 250));
		vendor.send({ op: "pos", ...B });
		expect(await oldCellWatcher.nextOp("gone")).toEqual({ op: "gone", id: vendorId, cell: cellAt(A.lat, A.lng) });
		expect(await newCellWatcher.nextOp("pos")).toMatchObject({ id: vendorId, cell: cellAt(B.lat, B.lng) });
		expect(newCellWatcher.frames.some(f => f.op === "gone")).toBe(false);
		expect(oldCellWatcher.frames.filter(f => f.op === "pos")).toHaveLength(1);
		vendor.close();
	});

	it("takes a vendor offline when its socket closes, and after VENDOR_OFFLINE_AFTER_S of silence", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const watcher = await connect();
		await watcher.watch({ bbox: [13.3, 52.5, 13.5, 52.55] });
		let vendor = await vendorSocket(vendorId);
		vendor.send({ op: "pos", ...A });
		await watcher.nextOp("pos");
		vendor.close();
		expect(await watcher.nextOp("gone")).toEqual({ op: "gone", id: vendorId, cell: cellAt(A.lat, A.lng) });
		expect(await engine.broker.call<VendorLocation, object>("geo.get", { vendorId })).toMatchObject({ online: false });

		vendor = await vendorSocket(vendorId);
		vendor.send({ op: "pos", ...B });
		const { ts } = await watcher.nextOp("pos");
		// The socket stays open but silent: the expiry sweep takes the vendor offline, not before
		// VENDOR_OFFLINE_AFTER_S after the position's own time (the server's clock, stamped on arrival).
		expect(await watcher.nextOp("gone", 6_000)).toEqual({ op: "gone", id: vendorId, cell: cellAt(B.lat, B.lng) });
		expect(Date.now() - (ts as number)).toBeGreaterThanOrEqual(2_000);
		const near = await fetch(`${engine.baseUrl}/api/vendors/${vendorId}/location`);
		expect(await near.json()).toEqual({ vendorId, online: false });
		vendor.send({ op: "pos", ...B });
		await watcher.nextOp("pos");
		vendor.close();
	});

	it("drops and counts frames above POSITION_MAX_HZ", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const watcher = await connect();
		await watcher.watch({ near: { ...A, radius: 2_000 } });
		const droppedBefore = metricValue(await metrics(), "venta_live_positions_dropped_total") ?? 0;
		const inBefore = metricValue(await metrics(), "venta_live_positions_in_total") ?? 0;
		const vendor = await vendorSocket(vendorId);
		for (let i = 0; i < 30; i++) vendor.send({ op: "pos", lat: A.lat + i / 100_000, lng: A.lng });
		expect(await vendor.nextOp("error")).toMatchObject({ code: "RATE_LIMITED" });
		vendor.send({ op: "ping" });
		await vendor.nextOp("pong");
		await waitFor(async () => (metricValue(await metrics(), "venta_live_positions_dropped_total") ?? 0) - droppedBefore >= 20, {
			what: "dropped counter",
		});
		await new Promise(r => setTimeout(r, 200));
		const delivered = watcher.frames.filter(f => f.op === "pos" && f.id === vendorId).length;
		expect(delivered).toBeGreaterThanOrEqual(1);
		expect(delivered).toBeLessThanOrEqual(10);
		// Every frame is counted once: stored and streamed, or dropped.
		const text = await metrics();
		expect(metricValue(text, "venta_live_positions_in_total")! - inBefore).toBe(delivered);
		expect(metricValue(text, "venta_live_positions_dropped_total")! - droppedBefore + delivered).toBe(30);
		vendor.close();
	});

	it("drops a position older than the vendor's last one", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const watcher = await connect();
		await watcher.watch({ cells: [cellAt(A.lat, A.lng)] });
		const vendor = await vendorSocket(vendorId);
		const ts = Date.now();
		vendor.send({ op: "pos", ...A, ts });
		await watcher.nextOp("pos");
		await new Promise(r => setTimeout(r, 250));
		vendor.send({ op: "pos", lat: A.lat + 0.0001, lng: A.lng, ts: ts - 1_000 });
		await new Promise(r => setTimeout(r, 250));
		vendor.send({ op: "pos", lat: A.lat + 0.0002, lng: A.lng, ts: ts + 1 });
		expect(await watcher.nextOp("pos")).toMatchObject({ lat: A.lat + 0.0002, ts: ts + 1 });
		expect(watcher.frames.filter(f => f.op === "pos")).toHaveLength(2);
		// The store follows the stream within the writer's window.
		await waitFor(async () => (await engine.broker.call<unknown[], object>("geo.history", { vendorId })).length === 2, {
			what: "both newer positions stored",
		});
		expect((await engine.broker.call<unknown[], object>("geo.history", { vendorId })).length).toBe(2);
		vendor.close();
	});

	it("writes socket positions in geo.updateMany batches: every vendor streamed, gone on the cell left", async () => {
		const requests = async (action: string) => {
			let sum = 0;
			for (const line of (await metrics()).split("\n"))
				if (line.startsWith("moleculer_request_total{") && line.includes(`action="${action}"`))
					sum += Number(line.slice(line.lastIndexOf(" ") + 1));
			return sum;
		};
		const ids = await Promise.all(Array.from({ length: 4 }, (_, i) => activeVendor(engine.baseUrl, ownerToken, `Batch ${i}`)));
		const atA = await connect();
		await atA.watch({ cells: [cellAt(A.lat, A.lng)] });
		const atB = await connect();
		await atB.watch({ cells: [cellAt(B.lat, B.lng)] });
		const vendors = await Promise.all(ids.map(id => vendorSocket(id)));
		const [updatesBefore, batchesBefore] = [await requests("geo.update"), await requests("geo.updateMany")];

		vendors.forEach((v, i) => {
			v.send({ op: "pos", lat: A.lat + i / 100_000, lng: A.lng });
		});
		for (const id of ids) expect(await atA.next(f => f.op === "pos" && f.id === id)).toMatchObject({ cell: cellAt(A.lat, A.lng) });
		await new Promise(r => setTimeout(r, 250));
		vendors.forEach((v, i) => {
			v.send({ op: "pos", lat: B.lat + i / 100_000, lng: B.lng });
		});
		for (const id of ids) {
			expect(await atA.next(f => f.op === "gone" && f.id === id)).toEqual({ op: "gone", id, cell: cellAt(A.lat, A.lng) });
			expect(await atB.next(f => f.op === "pos" && f.id === id)).toMatchObject({ cell: cellAt(B.lat, B.lng) });
		}
		expect(atB.frames.some(f => f.op === "gone")).toBe(false);

		// Socket positions never take the per-position path; the 8 positions took at most 8 batches
		// (the store follows the stream within the writer's window).
		await waitFor(async () => (await requests("geo.updateMany")) - batchesBefore >= 2, { what: "both rounds written" });
		const batches = (await requests("geo.updateMany")) - batchesBefore;
		expect(await requests("geo.update")).toBe(updatesBefore);
		expect(batches).toBeGreaterThanOrEqual(2);
		expect(batches).toBeLessThanOrEqual(8);
		for (const v of vendors) v.close();
		for (const id of ids) await atB.next(f => f.op === "gone" && f.id === id);
	});

	it("lets a newer socket of the same vendor replace the older one without going offline", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const watcher = await connect();
		await watcher.watch({ cells: [cellAt(A.lat, A.lng)] });
		const first = await vendorSocket(vendorId);
		first.send({ op: "pos", ...A });
		await watcher.nextOp("pos");
		const second = await vendorSocket(vendorId);
		expect(await first.closed()).toBe(CLOSE_CODES.KICKED);
		await new Promise(r => setTimeout(r, 300));
		expect(watcher.frames.some(f => f.op === "gone")).toBe(false);
		expect(await engine.broker.call("geo.get", { vendorId })).toMatchObject({ online: true });
		await new Promise(r => setTimeout(r, 250));
		second.send({ op: "pos", ...A, hdg: 1 });
		expect(await watcher.nextOp("pos")).toMatchObject({ id: vendorId, hdg: 1 });
		second.close();
		expect(await watcher.nextOp("gone")).toMatchObject({ id: vendorId });
	});

	it("answers bad frames with error codes and keeps serving the socket and everyone else", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const vendor = await vendorSocket(vendorId);
		const watcher = await connect();
		await watcher.watch({ cells: [cellAt(A.lat, A.lng)] });

		vendor.send("{nope");
		expect(await vendor.nextOp("error")).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("JSON") });
		vendor.send({ op: "teleport" });
		expect(await vendor.nextOp("error")).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("teleport") });
		vendor.send({ op: "pos", lat: 123, lng: 13 });
		expect(await vendor.nextOp("error")).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("lat") });
		vendor.send({ op: "pos", lat: 52, lng: 13, ts: Date.now() + 3_600_000 });
		expect(await vendor.nextOp("error")).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("future") });
		watcher.send({ op: "pos", ...A });
		expect(await watcher.nextOp("error")).toMatchObject({ code: "UNAUTHORIZED" });
		const signedIn = await connect(`?token=${otherToken}`);
		signedIn.send({ op: "pos", ...A });
		expect(await signedIn.nextOp("error")).toMatchObject({ code: "FORBIDDEN" });
		expect(await engine.broker.call("geo.get", { vendorId })).toBeNull();

		// Still serving: the same sockets work.
		vendor.send({ op: "pos", ...A });
		expect(await watcher.nextOp("pos")).toMatchObject({ id: vendorId });

		// An oversize frame makes uWS drop only that connection (no close frame: 1006); the others carry on.
		const big = await connect();
		big.send({ op: "watch", cells: ["x".repeat(200_000)] });
		expect([1006, 1009]).toContain(await big.closed());
		watcher.send({ op: "ping" });
		expect(await watcher.nextOp("pong")).toEqual({ op: "pong" });
		vendor.close();
	});

	it("closes a socket that keeps sending bad frames (POLICY)", async () => {
		const client = await connect();
		for (let i = 0; i < 25; i++) client.send("garbage");
		expect(await client.closed()).toBe(CLOSE_CODES.POLICY);
	});

	it("refuses watch sets over WATCH_MAX_CELLS with TOO_MANY_CELLS", async () => {
		const watcher = await connect();
		watcher.send({ op: "watch", bbox: [12, 52, 14, 53] });
		expect(await watcher.nextOp("error")).toMatchObject({ code: "TOO_MANY_CELLS" });
		watcher.send({ op: "watch", near: { ...A, radius: 20_000 } });
		expect(await watcher.nextOp("error")).toMatchObject({ code: "TOO_MANY_CELLS" });
		watcher.send({ op: "watch", cells: Array.from({ length: 501 }, (_, i) => latLngToCell(10 + i / 100, 10, RES)) });
		expect(await watcher.nextOp("error")).toMatchObject({ code: "TOO_MANY_CELLS" });
		const ok = await watcher.watch({ cells: [cellAt(A.lat, A.lng)] });
		expect(ok.cells).toEqual([cellAt(A.lat, A.lng)]);
	});

	it("refuses upgrades with an invalid token (401) or for someone else's vendor (403)", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		// Without a token a vendor socket opens, but broadcasts only once its first frame signs it in (auth-lifecycle.test.ts).
		const forged = `${ownerToken.slice(0, -4)}AAAA`;
		await expect(LiveClient.open(`${engine.liveUrl}?vendor=${vendorId}&token=${forged}`)).rejects.toMatchObject({ status: 401 });
		await expect(LiveClient.open(`${engine.liveUrl}?token=${forged}`)).rejects.toMatchObject({ status: 401 });
		const expired = await engine.token("user_live_owner", -60);
		await expect(LiveClient.open(`${engine.liveUrl}?vendor=${vendorId}&token=${expired}`)).rejects.toMatchObject({ status: 401 });
		await expect(LiveClient.open(`${engine.liveUrl}?vendor=${vendorId}&token=${otherToken}`)).rejects.toMatchObject({ status: 403 });
		// The Authorization header works as well as ?token=.
		const viaHeader = await connect(`?vendor=${vendorId}`, { Authorization: `Bearer ${ownerToken}` });
		viaHeader.close();
		// Anonymous and signed-in watchers are welcome.
		expect((await connect()).ws.readyState).toBe(1);
		expect((await connect(`?token=${otherToken}`)).ws.readyState).toBe(1);
	});

	it("closes a vendor's socket when it may no longer broadcast (BROADCAST_REVOKED)", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const vendor = await vendorSocket(vendorId);
		const headers = { "Content-Type": "application/json", Authorization: `Bearer ${ownerToken}` };
		const paused = await fetch(`${engine.baseUrl}/api/vendors/${vendorId}/status`, {
			method: "POST",
			headers,
			body: JSON.stringify({ status: "paused" }),
		});
		expect(paused.status).toBe(200);
		expect(await vendor.closed()).toBe(CLOSE_CODES.BROADCAST_REVOKED);
		await expect(LiveClient.open(`${engine.liveUrl}?vendor=${vendorId}&token=${ownerToken}`)).rejects.toMatchObject({ status: 403 });
	});

	it("closes a deleted user's sockets: the vendor's with BROADCAST_REVOKED or UNAUTHORIZED, watchers with UNAUTHORIZED", async () => {
		const token = await engine.token("user_live_leaving");
		const vendorId = await activeVendor(engine.baseUrl, token);
		const vendor = await vendorSocket(vendorId, token);
		const watcher = await connect(`?token=${token}`);
		const bystander = await connect(`?token=${otherToken}`);
		await engine.broker.call("users.remove", { id: "user_live_leaving" }, AS_OPERATOR);
		expect(await watcher.closed()).toBe(CLOSE_CODES.UNAUTHORIZED);
		expect([CLOSE_CODES.BROADCAST_REVOKED, CLOSE_CODES.UNAUTHORIZED]).toContain(await vendor.closed());
		bystander.send({ op: "ping" });
		expect(await bystander.nextOp("pong")).toEqual({ op: "pong" });
	});

	it("accepts REST positions from the owner only and streams them to watchers", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const watcher = await connect();
		await watcher.watch({ cells: [cellAt(B.lat, B.lng)] });
		const post = (token: string | null, body: unknown) =>
			fetch(`${engine.baseUrl}/api/vendors/${vendorId}/location`, {
				method: "POST",
				headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
				body: JSON.stringify(body),
			});
		expect((await post(null, B)).status).toBe(401);
		expect((await post(otherToken, B)).status).toBe(403);
		const invalid = await post(ownerToken, { lat: 100, lng: 0 });
		expect(invalid.status).toBe(422);
		expect(await invalid.json()).toMatchObject({ type: "VALIDATION_ERROR" });
		const ok = await post(ownerToken, { ...B, hdg: 45 });
		expect(ok.status).toBe(200);
		expect(await ok.json()).toMatchObject({ vendorId, ...B, online: true, cell: cellAt(B.lat, B.lng) });
		expect(await watcher.nextOp("pos")).toMatchObject({ id: vendorId, ...B, hdg: 45 });
		expect((await post(ownerToken, B)).status).toBe(429);
		const got = await fetch(`${engine.baseUrl}/api/vendors/${vendorId}/location`);
		expect(await got.json()).toMatchObject({ vendorId, online: true, ...B });
		expect((await fetch(`${engine.baseUrl}/api/vendors/ven_nope/location`)).status).toBe(404);
		const heat = await fetch(`${engine.baseUrl}/api/discovery/heatmap?bbox=13.3,52.5,13.5,52.55&res=7`);
		expect(heat.status).toBe(200);
		expect(((await heat.json()) as { total: number }).total).toBeGreaterThanOrEqual(1);
		expect((await fetch(`${engine.baseUrl}/api/discovery/heatmap?bbox=nope`)).status).toBe(422);
	});

	it("makes discovery nearby return live positions and online state from geo", async () => {
		const vendorId = await activeVendor(engine.baseUrl, ownerToken, "Live Discovery Cart");
		const spot = { lat: 40.4168, lng: -3.7038 };
		const nearby = async (query = "") => {
			const res = await fetch(`${engine.baseUrl}/api/discovery/nearby?lat=${spot.lat}&lng=${spot.lng}&radius=1000${query}`);
			expect(res.status).toBe(200);
			return ((await res.json()) as { rows: { id: string; online: boolean; distance: number; position: Record<string, unknown> }[] }).rows;
		};
		expect((await nearby()).find(r => r.id === vendorId)).toBeUndefined();
		const vendor = await vendorSocket(vendorId);
		vendor.send({ op: "pos", lat: spot.lat + 0.001, lng: spot.lng, hdg: 10 });
		const row = await waitFor(async () => (await nearby("&online=true")).find(r => r.id === vendorId));
		expect(row).toMatchObject({
			online: true,
			position: { lat: spot.lat + 0.001, lng: spot.lng, hdg: 10, cell: cellAt(spot.lat + 0.001, spot.lng) },
		});
		expect(row.distance).toBeGreaterThan(105);
		expect(row.distance).toBeLessThan(118);
		vendor.close();
		await waitFor(async () => !(await nearby()).some(r => r.id === vendorId && r.online), { what: "vendor gone from live results" });
	});

	it("serves health and metrics on LIVE_PORT, and live.stats / live.kick", async () => {
		expect(await (await liveHttp("/health/live")).json()).toMatchObject({ status: "ok" });
		const ready = await liveHttp("/health/ready");
		expect(ready.status).toBe(200);
		expect(await ready.json()).toMatchObject({ ready: true, checks: { geo: "ok" } });
		expect((await liveHttp("/nope")).status).toBe(404);

		const vendorId = await activeVendor(engine.baseUrl, ownerToken);
		const vendor = await vendorSocket(vendorId);
		vendor.send({ op: "pos", ...A });
		const stats = await waitFor(async () => {
			const s = await engine.broker.call<{ vendors: number; sockets: number; counters: { positionsIn: number } }>("live.stats");
			return s.vendors >= 1 && s.counters.positionsIn > 0 ? s : undefined;
		});
		expect(stats).toMatchObject({ node: engine.broker.nodeID });
		const watcher = await connect();
		await watcher.watch({ cells: [cellAt(B.lat, B.lng)] });
		const detailed = await engine.broker.call<
			{ cellWatchers: { cell: string; watchers: number }[]; watchSets: { connId: number; cells: number }[] },
			object
		>("live.stats", { cells: true, sockets: true });
		expect(detailed.cellWatchers).toContainEqual({ cell: cellAt(B.lat, B.lng), watchers: expect.any(Number) });
		expect(detailed.watchSets.some(s => s.cells === 1)).toBe(true);
		// Nothing moves now: every metric equals the node's own counter at scrape time.
		const text = await metrics();
		const now = await engine.broker.call<LiveStats>("live.stats");
		const node = `node="${engine.broker.nodeID}"`;
		expect({
			sockets: metricValue(text, "venta_live_sockets", node),
			positionsIn: metricValue(text, "venta_live_positions_in_total", node),
			positionsDropped: metricValue(text, "venta_live_positions_dropped_total", node),
			routedIn: metricValue(text, "venta_live_routed_in_total", node),
			deliveries: metricValue(text, "venta_live_deliveries_total", node),
			watchers: metricValue(text, "venta_live_watchers", node),
			vendors: metricValue(text, "venta_live_vendors", node),
			slowSockets: metricValue(text, "venta_live_slow_sockets", node),
			backpressureDrops: metricValue(text, "venta_live_backpressure_drops_total", node),
			slowConsumersClosed: metricValue(text, "venta_live_slow_consumers_closed_total", node),
		}).toEqual({
			sockets: now.sockets,
			...now.counters,
			watchers: now.watchers,
			vendors: now.vendors,
			slowSockets: now.slowSockets,
			backpressureDrops: now.backpressureDrops,
			slowConsumersClosed: now.slowConsumersClosed,
		});
		expect(Math.min(now.watchers, now.vendors)).toBeGreaterThanOrEqual(1);
		expect(now.sockets).toBeGreaterThanOrEqual(2);
		expect(now.counters.positionsIn).toBeGreaterThanOrEqual(1);
		expect(now.counters.routedIn).toBe(0);

		await engine.broker.call("live.kick", { vendorId }, AS_OPERATOR);
		expect(await vendor.closed()).toBe(CLOSE_CODES.KICKED);
	});
});

describe("live gateway without geo", () => {
	it("answers a watch with UNAVAILABLE (the watch set still applies) and keeps serving", async () => {
		const engine = await startTestEngine({ SERVICES: "live" });
		try {
			const client = await LiveClient.open(engine.liveUrl);
			client.send({ op: "watch", cells: [cellAt(A.lat, A.lng)] });
			expect(await client.nextOp("error")).toMatchObject({ code: "UNAVAILABLE" });
			expect(await engine.broker.call("live.stats")).toMatchObject({ watchers: 1, watchedCells: 1 });
			client.send({ op: "ping" });
			expect(await client.nextOp("pong")).toEqual({ op: "pong" });
			expect((await fetch(`http://127.0.0.1:${engine.config.livePort}/health/ready`)).status).toBe(200);
			client.close();
		} finally {
			await engine.stop();
		}
	});
});

describe("live gateway shutdown", () => {
	it("tells clients to reconnect, refuses new upgrades and stops listening", async () => {
		const engine = await startTestEngine({ SERVICES: "geo,live" });
		const client = await LiveClient.open(engine.liveUrl);
		await client.watch({ cells: [cellAt(A.lat, A.lng)] });
		await engine.stop();
		expect(await client.closed()).toBe(CLOSE_CODES.RECONNECT);
		await expect(LiveClient.open(engine.liveUrl)).rejects.toMatchObject({ code: "ECONNREFUSED" });
	});
});
