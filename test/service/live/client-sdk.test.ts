import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient as RawClient, metricValue, waitForRoutes } from "../../helpers/live.ts";
import { freePort } from "../../helpers/ports.ts";
import { connectVendor, type StateChange, type VendorPublisher } from "../../../packages/client/src/index.ts";
import { CLOSE_CODES } from "../../../packages/client/src/protocol/codes.ts";

const SPOT = { lat: 52.52, lng: 13.405 };
const CELL = latLngToCell(SPOT.lat, SPOT.lng, 8);
const GRACE_S = 1;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The SDK's vendor publisher against one real engine, watched by a plain socket of the tests. */
describe("@venta/client vendor publisher", () => {
	let engine: TestEngine;
	const closers: Array<() => unknown> = [];
	const watcher = async () => {
		const raw = await RawClient.open(engine.liveUrl);
		closers.push(() => raw.close());
		await raw.watch({ cells: [CELL] });
		return raw;
	};
	const vendor = async (name: string) => {
		const owner = `user_sdk_${name}`;
		return { owner, id: await activeVendor(engine.baseUrl, await engine.token(owner), `SDK ${name}`) };
	};
	const publisher = (p: VendorPublisher) => {
		const states: StateChange[] = [];
		p.live.on("state", s => states.push(s));
		closers.push(() => p.close());
		return { p, states };
	};

	beforeAll(async () => {
		engine = await startTestEngine({ AUTH_GRACE_S: String(GRACE_S) });
		await waitForRoutes(engine.baseUrl);
	});
	afterAll(async () => {
		for (const close of closers) await close();
		await engine.stop();
	});

	it("keeps publishing past the first token's expiry: 2 s tokens refreshed over the open socket", async () => {
		const { owner, id } = await vendor("refresh");
		let minted = 0;
		const { p, states } = publisher(
			connectVendor({
				url: engine.liveUrl,
				vendor: id,
				maxHz: 4,
				// The rate under test is the app's own: one watcher would have the engine suggest 1 Hz.
				followInterest: false,
				getToken: () => {
					minted++;
					return engine.token(owner, 2);
				},
			})
		);
		const raw = await watcher();
		const started = Date.now();
		let step = 0;
		const mover = setInterval(() => p.publish({ lat: SPOT.lat + ++step * 0.00001, lng: SPOT.lng }), 250);
		closers.push(() => clearInterval(mover));
		// Four token lifetimes and the grace: a socket that did not refresh would be closed 4003 by now.
		await sleep(8_000);
		clearInterval(mover);
		const received = raw.frames.filter(f => f.op === "pos" && f.id === id);
		const last = received.at(-1)!;
		expect(received.length).toBeGreaterThan(20);
		expect(last.ts as number).toBeGreaterThan(started + 7_000);
		expect(minted).toBeGreaterThanOrEqual(4);
		expect(states.map(s => s.state)).toEqual(["open"]);
		expect(p.live.authed).toBe(true);
	}, 20_000);

	it("never exceeds maxHz: a burst is coalesced to the newest position, and the engine drops none", async () => {
		const { owner, id } = await vendor("burst");
		const { p } = publisher(
			connectVendor({ url: engine.liveUrl, vendor: id, maxHz: 2, followInterest: false, getToken: () => engine.token(owner) })
		);
		await waitFor(() => p.live.authed, { what: "the vendor socket signed in" });
		const raw = await watcher();
		const droppedBefore = metricValue(await (await fetch(`${engine.baseUrl}/metrics`)).text(), "venta_live_positions_dropped_total") ?? 0;
		const errors: string[] = [];
		p.live.on("error", e => errors.push(e.code));
		const started = Date.now();
		for (let i = 0; i < 60; i++) {
			p.publish({ lat: SPOT.lat + i * 0.00001, lng: SPOT.lng });
			await sleep(50);
		}
		await sleep(1_000);
		const elapsedS = (Date.now() - started) / 1000;
		const received = raw.frames.filter(f => f.op === "pos" && f.id === id);
		// 2 Hz over ~4 s: about 8, never more than the rate allows (plus the first, sent at once).
		expect(received.length).toBeLessThanOrEqual(Math.ceil(elapsedS * 2) + 1);
		expect(received.length).toBeGreaterThanOrEqual(5);
		expect(received.at(-1)!.lat).toBeCloseTo(SPOT.lat + 59 * 0.00001, 7);
		expect(p.stats.sent).toBe(received.length);
		expect(p.stats.dropped).toBe(60 - received.length);
		expect(errors).toEqual([]);
		const droppedAfter = metricValue(await (await fetch(`${engine.baseUrl}/metrics`)).text(), "venta_live_positions_dropped_total") ?? 0;
		expect(droppedAfter).toBe(droppedBefore);
	});

	it("drops stale positions while disconnected and resumes with the newest one", async () => {
		const { owner, id } = await vendor("offline");
		// Nothing listens at first: the socket keeps failing and retrying until the test points it at the engine.
		let url = `ws://127.0.0.1:${await freePort()}/live`;
		const { p, states } = publisher(
			connectVendor({ url: () => url, vendor: id, maxHz: 5, getToken: () => engine.token(owner), backoff: { initialMs: 200, maxMs: 400 } })
		);
		const raw = await watcher();
		await waitFor(() => states.some(s => s.state === "reconnecting"), { what: "a failed connect" });
		for (let i = 1; i <= 5; i++) {
			p.publish({ lat: SPOT.lat + i * 0.0001, lng: SPOT.lng, hdg: i });
			await sleep(100);
		}
		expect(p.stats).toEqual({ sent: 0, dropped: 4 });
		expect(states.every(s => s.action === "retry" && s.code === 1006)).toBe(true);
		url = engine.liveUrl;
		const first = await raw.next(f => f.op === "pos" && f.id === id, 10_000);
		expect(first).toMatchObject({ hdg: 5, lat: SPOT.lat + 5 * 0.0001 });
		await sleep(500);
		expect(raw.frames.filter(f => f.op === "pos" && f.id === id)).toHaveLength(1);
		expect(p.stats).toEqual({ sent: 1, dropped: 4 });
	});

	it("drops a position older than maxAgeMs instead of sending it late", async () => {
		const { owner, id } = await vendor("late");
		const { p } = publisher(connectVendor({ url: engine.liveUrl, vendor: id, maxAgeMs: 5_000, getToken: () => engine.token(owner) }));
		p.publish({ ...SPOT, ts: Date.now() - 6_000 });
		await waitFor(() => p.live.authed, { what: "the vendor socket signed in" });
		await sleep(300);
		expect(p.stats).toEqual({ sent: 0, dropped: 1 });
	});

	it("gives up on a terminal close code: a vendor paused over REST (4010) is not reconnected", async () => {
		const { owner, id } = await vendor("paused");
		let connects = 0;
		const { p, states } = publisher(
			connectVendor({
				url: () => {
					connects++;
					return engine.liveUrl;
				},
				vendor: id,
				getToken: () => engine.token(owner),
				backoff: { initialMs: 100, maxMs: 200 },
			})
		);
		await waitFor(() => p.live.authed, { what: "the vendor socket signed in" });
		const paused = await fetch(`${engine.baseUrl}/api/vendors/${id}/status`, {
			method: "POST",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${await engine.token(owner)}` },
			body: JSON.stringify({ status: "paused" }),
		});
		expect(paused.status).toBe(200);
		await waitFor(() => p.live.state === "closed", { what: "the publisher to give up" });
		expect(states.at(-1)).toMatchObject({ state: "closed", code: CLOSE_CODES.BROADCAST_REVOKED, action: "give up" });
		// Several backoff periods later: still one connect, no retry.
		await sleep(1_500);
		expect(connects).toBe(1);
		expect(p.live.state).toBe("closed");
	});

	it("reconnects at once with a fresh token after 4003 (a vendor socket whose provider had none at first)", async () => {
		const { owner, id } = await vendor("reauth");
		let calls = 0;
		const { p, states } = publisher(
			connectVendor({
				url: engine.liveUrl,
				vendor: id,
				// The sign-in is not ready on the first connect (null): the server closes with 4003 after AUTH_GRACE_S.
				getToken: () => (++calls === 1 ? null : engine.token(owner)),
			})
		);
		await waitFor(() => p.live.authed, { timeout: 15_000, what: "the reconnected socket signed in" });
		const reconnect = states.find(s => s.state === "reconnecting");
		expect(reconnect).toMatchObject({ code: CLOSE_CODES.TOKEN_EXPIRED, action: "reauthenticate", delayMs: 0 });
	});
});
