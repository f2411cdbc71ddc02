import { afterEach, describe, expect, it, vi } from "vitest";
import { latLngToCell } from "h3-js";
import { routingCell } from "../../../../gateways/live/cells.ts";
import { LiveHub } from "../../../../gateways/live/hub.ts";
import { CLOSE_CODES } from "../../../../gateways/live/protocol/codes.ts";
import { SLOW_CONSUMER_CLOSE_MS } from "../../../../gateways/live/slow-consumers.ts";
import { FakeApp, FakeRouter } from "../../../helpers/fake-uws.ts";

const RES = 8;
const A = latLngToCell(52.52, 13.405, RES);
const B = latLngToCell(52.53, 13.42, RES);
const FAR = latLngToCell(48.137, 11.575, RES);
const at = { lat: 52.52, lng: 13.405, ts: 1_800_000_000_000 };

function hubWith(router?: FakeRouter) {
	const app = new FakeApp();
	const hub = new LiveHub(RES);
	hub.attach(app.asApp, router?.asRouter ?? null);
	return { app, hub };
}

describe("LiveHub", () => {
	afterEach(() => vi.useRealTimers());

	it("owns its sockets: added on open, removed on close with their watch sets", () => {
		const { app, hub } = hubWith();
		const ws = app.socket();
		hub.add(ws.asLive);
		hub.setWatch(ws.asLive, [A, B]);
		expect(hub.stats()).toMatchObject({ sockets: 1, watchers: 1, watchedCells: 2 });
		hub.remove(ws.asLive);
		expect(ws.data.closed).toBe(true);
		expect(hub.stats()).toMatchObject({ sockets: 0, watchers: 0, watchedCells: 0 });
	});

	it("keeps one socket per vendor: a newer one replaces the older (KICKED, the vendor stays online)", () => {
		const { app, hub } = hubWith();
		const older = app.socket({ user: { id: "u1", role: "vendor" }, vendorId: "ven_1" });
		const newer = app.socket({ user: { id: "u1", role: "vendor" }, vendorId: "ven_1" });
		hub.add(older.asLive);
		hub.add(newer.asLive);
		expect(older.ended).toEqual({ code: CLOSE_CODES.KICKED, reason: "replaced by a newer connection" });
		expect(older.data.keepOnline).toBe(true);
		expect(hub.vendorSockets.get("ven_1")).toBe(newer.asLive);
		// The older one's close must not unregister the newer one.
		hub.remove(older.asLive);
		expect(hub.vendorSockets.get("ven_1")).toBe(newer.asLive);
	});

	it("serialises a position once per cell and delivers it to that cell's watchers only", () => {
		const { app, hub } = hubWith();
		const [inA, inB] = [app.socket(), app.socket()];
		for (const ws of [inA, inB]) hub.add(ws.asLive);
		hub.setWatch(inA.asLive, [A]);
		hub.setWatch(inB.asLive, [B]);
		hub.publish({ vendorId: "ven_1", cell: A, position: { ...at, acc: 4 } });
		expect(app.published).toEqual([{ topic: A, frame: `{"op":"pos","id":"ven_1","lat":52.52,"lng":13.405,"cell":"${A}","ts":${at.ts}}` }]);
		expect(inA.sent).toHaveLength(1);
		expect(inB.sent).toEqual([]);
		expect(hub.counters.deliveries).toBe(1);
	});

	it("sends `gone` to the cell a vendor left, and `gone` alone when it went offline", () => {
		const { app, hub } = hubWith();
		const [inA, inB] = [app.socket(), app.socket()];
		for (const ws of [inA, inB]) hub.add(ws.asLive);
		hub.setWatch(inA.asLive, [A]);
		hub.setWatch(inB.asLive, [B]);
		hub.publish({ vendorId: "ven_1", cell: B, position: at, previousCell: A });
		expect(inA.sent.map(f => JSON.parse(f))).toEqual([{ op: "gone", id: "ven_1", cell: A }]);
		expect(JSON.parse(inB.sent[0]!)).toMatchObject({ op: "pos", id: "ven_1", cell: B });
		hub.publish({ vendorId: "ven_1", cell: B });
		expect(JSON.parse(inB.sent[1]!)).toEqual({ op: "gone", id: "ven_1", cell: B });
	});

	it("builds no frame for a cell nobody watches on a node without routing", () => {
		const { app, hub } = hubWith();
		hub.publish({ vendorId: "ven_1", cell: FAR, position: at, previousCell: A });
		expect(app.published).toEqual([]);
	});

	it("subscribes a routing subject while any socket watches a cell under it, and routes every change", () => {
		const router = new FakeRouter();
		const { app, hub } = hubWith(router);
		const [one, two] = [app.socket(), app.socket()];
		for (const ws of [one, two]) hub.add(ws.asLive);
		hub.setWatch(one.asLive, [A]);
		hub.setWatch(two.asLive, [A, FAR]);
		expect([...router.subjects].sort()).toEqual([routingCell(A, RES), routingCell(FAR, RES)].sort());
		hub.setWatch(two.asLive, []);
		expect([...router.subjects]).toEqual([routingCell(A, RES)]);
		hub.remove(one.asLive);
		expect([...router.subjects]).toEqual([]);
		// With routing, a change is published for other nodes even when no local socket watches.
		hub.publish({ vendorId: "ven_1", cell: FAR, position: at });
		expect(router.published).toEqual([
			{ routingCell: routingCell(FAR, RES), cell: FAR, vendorId: "ven_1", frame: expect.stringContaining('"op":"pos"') },
		]);
	});

	it("counts updates from other nodes and delivers them locally", () => {
		const { app, hub } = hubWith(new FakeRouter());
		const ws = app.socket();
		hub.add(ws.asLive);
		hub.setWatch(ws.asLive, [A]);
		hub.onRouted(A, "ven_2", '{"op":"gone","id":"ven_2","cell":"x"}');
		expect(hub.counters).toMatchObject({ routedIn: 1, deliveries: 1 });
		expect(ws.sent).toEqual(['{"op":"gone","id":"ven_2","cell":"x"}']);
	});

	it("counts every position frame once: streamed as in, every other outcome as dropped", () => {
		const { hub } = hubWith();
		for (const outcome of ["streamed", "invalid", "rate_limited", "stale", "streamed"] as const) hub.countPosition(outcome);
		expect(hub.counters).toMatchObject({ positionsIn: 2, positionsDropped: 3 });
	});

	it("closes a user's sockets, a vendor's socket, and everything on shutdown (vendors stay online)", () => {
		const { app, hub } = hubWith();
		const watcher = app.socket({ user: { id: "u9", role: "customer" }, vendorId: null });
		const vendor = app.socket({ user: { id: "u8", role: "vendor" }, vendorId: "ven_8" });
		const anonymous = app.socket();
		for (const ws of [watcher, vendor, anonymous]) hub.add(ws.asLive);
		hub.closeUser("u9", CLOSE_CODES.UNAUTHORIZED, "user deleted");
		expect(watcher.ended?.code).toBe(CLOSE_CODES.UNAUTHORIZED);
		expect(hub.closeVendor("ven_8", CLOSE_CODES.BROADCAST_REVOKED, "vendor paused")).toBe(true);
		expect(hub.closeVendor("ven_none", CLOSE_CODES.KICKED, "kicked")).toBe(false);
		expect(vendor.ended?.code).toBe(CLOSE_CODES.BROADCAST_REVOKED);
		hub.closeAll(CLOSE_CODES.RECONNECT, "server restarting");
		expect(anonymous.ended?.code).toBe(CLOSE_CODES.RECONNECT);
		expect(anonymous.data.keepOnline).toBe(true);
	});

	it("indexes signed-in sockets by user across sign-in, refresh and close; an alert goes to that user's open sockets only", () => {
		const { app, hub } = hubWith();
		const phone = app.socket({ user: { id: "u1", role: "customer" }, vendorId: null });
		const laptop = app.socket();
		const other = app.socket({ user: { id: "u2", role: "customer" }, vendorId: null });
		const anonymous = app.socket();
		for (const ws of [phone, laptop, other, anonymous]) hub.add(ws.asLive);
		// The laptop signs in by its first auth frame, then refreshes its token (same user): indexed once.
		laptop.data.user = { id: "u1", role: "customer" };
		hub.users.add(laptop.asLive);
		hub.users.add(laptop.asLive);
		expect(hub.users.send("u1", '{"op":"alert"}')).toBe(2);
		expect([phone.sent, laptop.sent, other.sent, anonymous.sent]).toEqual([['{"op":"alert"}'], ['{"op":"alert"}'], [], []]);
		expect(hub.stats().alertsSent).toBe(2);
		hub.remove(phone.asLive);
		expect(hub.users.send("u1", '{"op":"alert"}')).toBe(1);
		hub.remove(laptop.asLive);
		expect(hub.users.of("u1").size).toBe(0);
		expect(hub.users.send("u1", '{"op":"alert"}')).toBe(0);
		expect(hub.stats().alertsSent).toBe(3);
	});

	it("feeds a slow watcher latest-wins off its topics, back on them once it drains, and closes it if it stays behind", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const { app, hub } = hubWith();
		const ws = app.socket();
		hub.add(ws.asLive);
		hub.setWatch(ws.asLive, [A]);
		hub.slow.onDropped(ws.asLive, '{"op":"pos","id":"ven_1","lat":1,"lng":1,"cell":"c","ts":1}');
		await Promise.resolve(); // uWS reports drops from inside publish: the hub moves the socket after it
		expect(ws.topics.size).toBe(0);
		expect(hub.stats().slowSockets).toBe(1);
		ws.buffered = 1e6;
		hub.publish({ vendorId: "ven_1", cell: A, position: { ...at, ts: at.ts + 1 } });
		hub.publish({ vendorId: "ven_1", cell: A, position: { ...at, ts: at.ts + 2 } });
		expect(ws.data.missed.size).toBe(1);
		hub.slow.catchUp(ws.asLive); // still full: nothing sent
		expect(ws.sent).toEqual([]);
		ws.buffered = 0;
		hub.slow.catchUp(ws.asLive);
		expect(ws.sent.map(f => JSON.parse(f).ts)).toEqual([at.ts + 2]);
		expect([...ws.topics]).toEqual([A]);
		expect(hub.stats().slowSockets).toBe(0);

		hub.slow.onDropped(ws.asLive, '{"op":"gone","id":"ven_1","cell":"c"}');
		await Promise.resolve();
		ws.buffered = 1e6;
		vi.setSystemTime(Date.now() + SLOW_CONSUMER_CLOSE_MS + 1);
		hub.slow.sweep(Date.now());
		expect(ws.ended?.code).toBe(CLOSE_CODES.SLOW_CONSUMER);
		expect(hub.slowConsumersClosed).toBe(1);
	});

	it("holds at most the allowed places per client address, freed when a socket closes", () => {
		const { app, hub } = hubWith();
		expect([hub.reserve("10.0.0.1", 2), hub.reserve("10.0.0.1", 2), hub.reserve("10.0.0.1", 2)]).toEqual([true, true, false]);
		expect(hub.reserve("10.0.0.2", 2)).toBe(true);
		hub.release("10.0.0.1");
		expect(hub.reserve("10.0.0.1", 2)).toBe(true);
		const ws = app.socket({ address: "10.0.0.3" });
		expect(hub.reserve("10.0.0.3", 1)).toBe(true);
		hub.add(ws.asLive);
		expect(hub.reserve("10.0.0.3", 1)).toBe(false);
		hub.remove(ws.asLive);
		hub.remove(ws.asLive); // a second close changes nothing
		expect(hub.reserve("10.0.0.3", 1)).toBe(true);
		expect(hub.reserve("10.0.0.3", 1)).toBe(false);
	});
});
