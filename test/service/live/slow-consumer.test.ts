import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { latLngToCell } from "h3-js";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { CLOSE_CODES } from "../../../gateways/live/protocol/codes.ts";
import type { SocketView } from "../../../gateways/live/contract.ts";
import { MAX_BACKPRESSURE_BYTES } from "../../../gateways/live/slow-consumers.ts";

const CELL = latLngToCell(52.52, 13.405, 8);
const VENDORS = 500;

/** A watcher that keeps only what the test needs: counts and the last ts per vendor (not every frame). */
class CountingWatcher {
	readonly ws: WebSocket;
	positions = 0;
	readonly lastTs = new Map<string, number>();
	closeCode: number | null = null;
	readonly #opened: Promise<unknown>;
	constructor(url: string) {
		this.ws = new WebSocket(url);
		this.#opened = new Promise(r => this.ws.once("open", r));
		this.ws.on("message", data => {
			const f = JSON.parse(data.toString()) as { op: string; id: string; ts: number };
			if (f.op !== "pos") return;
			this.positions++;
			this.lastTs.set(f.id, f.ts);
		});
		this.ws.on("close", code => (this.closeCode = code));
		this.ws.on("error", () => undefined);
	}
	async watch(): Promise<void> {
		await this.#opened;
		this.ws.send(JSON.stringify({ op: "watch", cells: [CELL] }));
		await new Promise(r => this.ws.once("message", r));
	}
}

describe("slow consumers", () => {
	let engine: TestEngine;
	beforeAll(async () => {
		engine = await startTestEngine({ SERVICES: "geo,live" });
	});
	afterAll(() => engine.stop());

	const sockets = () =>
		engine.broker.call<{ watchSets: SocketView[]; slowSockets: number; slowConsumersClosed: number }, object>("live.stats", {
			sockets: true,
		});

	it("are fed latest-wins within bounded buffers, closed when they stay behind, and never slow the others", async () => {
		const fast = new CountingWatcher(engine.liveUrl);
		const catchesUp = new CountingWatcher(engine.liveUrl);
		const staysBehind = new CountingWatcher(engine.liveUrl);
		for (const w of [fast, catchesUp, staysBehind]) await w.watch();
		catchesUp.ws.pause();
		staysBehind.ws.pause();

		const base = Date.now();
		let round = 0;
		let sent = 0;
		const publishRound = async () => {
			const ts = base + round++;
			await Promise.all(
				Array.from({ length: VENDORS }, (_, v) =>
					engine.broker.call("live.route", { vendorId: `v${v}`, cell: CELL, position: { lat: 52.52, lng: 13.405, ts } })
				)
			);
			sent += VENDORS;
			await new Promise(r => setImmediate(r)); // let the sockets (and the fast client) do their I/O
		};

		// Publish until both paused watchers are behind (kernel buffers and maxBackpressure are full)…
		let maxBuffered = 0;
		let maxBehind = 0;
		while ((await sockets()).slowSockets < 2) {
			if (round > 2_000) throw new Error("paused watchers never fell behind");
			await publishRound();
		}
		// …then keep going: their server-side state must stay bounded however much is published.
		for (let i = 0; i < 15; i++) {
			await publishRound();
			for (const s of (await sockets()).watchSets) {
				maxBuffered = Math.max(maxBuffered, s.buffered);
				maxBehind = Math.max(maxBehind, s.behind);
			}
		}
		const latest = base + round - 1;
		// The watcher that resumes (well within the 5 s grace) catches up with the latest
		// position of every vendor, skipping the backlog.
		catchesUp.ws.resume();
		expect(maxBuffered).toBeLessThanOrEqual(MAX_BACKPRESSURE_BYTES + 1024);
		expect(maxBehind).toBeLessThanOrEqual(VENDORS);

		// The fast watcher got every single update, in full.
		await waitFor(() => fast.positions === sent, {
			timeout: 15_000,
			what: `all ${sent} positions at the fast watcher (got ${fast.positions})`,
		});
		expect([...fast.lastTs.values()].every(ts => ts === latest)).toBe(true);

		await waitFor(() => catchesUp.lastTs.size === VENDORS && [...catchesUp.lastTs.values()].every(ts => ts === latest), {
			timeout: 10_000,
			what: "latest positions after catching up",
		});
		expect(catchesUp.positions).toBeLessThan(sent);
		expect(catchesUp.closeCode).toBeNull();
		await waitFor(async () => (await sockets()).slowSockets === 1, { what: "the resumed watcher back on its topics" });

		// The one that never reads is closed as a slow consumer. Its close frame (4009) queues
		// behind the backlog, so a client that reads too late may only see the TCP close (1006).
		await waitFor(async () => (await sockets()).watchSets.length === 2, { timeout: 10_000, what: "the stuck watcher to be closed" });
		expect((await sockets()).slowConsumersClosed).toBe(1);
		staysBehind.ws.resume();
		await waitFor(() => staysBehind.closeCode, { timeout: 10_000, what: "close code at the stuck watcher" });
		expect([CLOSE_CODES.SLOW_CONSUMER, 1006]).toContain(staysBehind.closeCode);

		// Delivery to the caught-up watcher is live again.
		await publishRound();
		await waitFor(() => catchesUp.lastTs.get("v0") === base + round - 1, { what: "live updates after catching up" });
		fast.ws.close();
		catchesUp.ws.close();
	}, 60_000);
});
