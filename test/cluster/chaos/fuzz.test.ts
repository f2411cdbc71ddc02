import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { latLngToCell } from "h3-js";
import { seededRng } from "../../../scripts/simulate/motion.ts";
import { quantile, SteadyVendor, TimingWatcher } from "../../helpers/control.ts";
import { testEnv, TEST_DEV_SECRET, waitFor } from "../../helpers/engine.ts";
import { hostileFrame, hostileRequest } from "../../helpers/fuzz.ts";
import { newWhsec } from "../../helpers/webhooks.ts";
import { activeVendor } from "../../helpers/live.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../../helpers/process.ts";
import { mintDevToken } from "../../../lib/auth.ts";

const SEED = 20261201;
const FRAMES = 10_000;
const REQUESTS = 2_000;
const A = { lat: 52.52, lng: 13.405 };
const cellA = latLngToCell(A.lat, A.lng, 8);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

/**
 * The engine (one process, as `npm start` runs it) under a seeded fuzzer: hostile socket frames,
 * hostile REST requests, a flood of valid but expensive watches and a connection flood, while a
 * control vendor → watcher pair streams. The process must live, the pair must get every
 * position, bad input must never be a 5xx nor change anything, and memory must stay bounded.
 */
describe("fuzz: hostile frames and requests against one engine", () => {
	let engine: NodeProcess;
	let base: string;
	let live: string;
	let vendor: SteadyVendor;
	let watcher: TimingWatcher;
	let fuzzVendor: string;
	let fuzzToken: string;
	let rssStart: number;

	beforeAll(async () => {
		const env = await testEnv({
			LOG_LEVEL: "fatal",
			LIVE_MAX_SOCKETS_PER_IP: "64",
			NODE_ID: "fuzz",
			CLERK_WEBHOOK_SECRET: newWhsec(),
			REVENUECAT_WEBHOOK_AUTH: "Bearer fuzz-secret",
		});
		base = `http://127.0.0.1:${env.PORT}`;
		live = `ws://127.0.0.1:${env.LIVE_PORT}/live`;
		engine = spawnNode("server.ts", env);
		await waitForHttp(`${base}/health/ready`);
		await waitFor(async () => (await fetch(`${base}/api/vendors`)).status === 200, { what: "REST routes" });
		const owner = await mintDevToken(TEST_DEV_SECRET, "user_fuzz_control");
		const controlId = await activeVendor(base, owner, "Control Cart");
		fuzzToken = await mintDevToken(TEST_DEV_SECRET, "user_fuzz_hostile");
		fuzzVendor = await activeVendor(base, fuzzToken, "Fuzzed Stand");
		watcher = new TimingWatcher(live, cellA, controlId);
		await watcher.start();
		vendor = new SteadyVendor(`${live}?token=${owner}&vendor=${controlId}`, A, 200);
		await vendor.start();
		await waitFor(() => watcher.arrivals.length >= 3, { what: "the control pair streaming" });
		rssStart = rssMb(engine.child.pid!);
	});

	afterAll(async () => {
		vendor?.stop();
		watcher?.stop();
		await engine?.kill();
	});

	it(`survives ${FRAMES} hostile socket frames, the control pair streaming throughout`, async () => {
		const rng = seededRng(SEED);
		const started = Date.now();
		let sent = 0;
		let sockets = 0;
		const vendorUrl = `${live}?token=${fuzzToken}&vendor=${fuzzVendor}`;
		const open = () =>
			new Promise<WebSocket>(resolve => {
				sockets++;
				const ws = new WebSocket(rng() < 0.5 ? live : vendorUrl);
				ws.on("error", () => undefined);
				ws.once("open", () => resolve(ws));
				ws.once("close", () => resolve(ws));
			});
		/** A ping's answer (or the close): every frame sent before it has been handled by the server. */
		const roundTrip = (ws: WebSocket) =>
			new Promise<void>(resolve => {
				const done = () => {
					ws.off("message", onMessage);
					resolve();
				};
				const onMessage = (data: WebSocket.RawData) => String(data).includes('"pong"') && done();
				ws.on("message", onMessage);
				ws.once("close", done);
				ws.send('{"op":"ping"}');
			});
		const workers = Array.from({ length: 8 }, async () => {
			let ws = await open();
			while (sent < FRAMES) {
				if (ws.readyState !== WebSocket.OPEN) ws = await open();
				for (let i = 0; i < 10 && ws.readyState === WebSocket.OPEN && sent < FRAMES; i++) {
					const frame = hostileFrame(rng);
					sent++;
					if (frame.kind === "binary") ws.send(frame.data, { binary: true });
					else if (frame.kind === "bytes-as-text") ws.send(frame.data, { binary: false });
					else ws.send(frame.data);
				}
				if (ws.readyState === WebSocket.OPEN) await roundTrip(ws);
			}
			ws.close();
		});
		await Promise.all(workers);
		const ended = Date.now();
		await new Promise(r => setTimeout(r, 500));
		const health = await fetch(`${base}/health/live`);
		const gap = watcher.maxGap(started, ended);
		const p99 = quantile(watcher.latencies(started, ended), 0.99);
		console.log(
			`fuzz frames: ${sent} hostile frames over ${sockets} sockets in ${ended - started} ms; engine alive: ${engine.child.exitCode === null}; control pair: max gap ${gap} ms, p99 ${p99} ms`
		);
		expect(engine.child.exitCode).toBeNull();
		expect(health.status).toBe(200);
		expect(gap).toBeLessThan(1_500);
		const missed = vendor.sent.filter(ts => ts > started + 100 && ts < ended - 500 && !watcher.has(ts));
		expect(missed).toEqual([]);
	}, 120_000);

	it(`answers ${REQUESTS} hostile REST requests with no 5xx, and a refused one changes nothing`, async () => {
		const rng = seededRng(SEED + 1);
		const statuses = new Map<number, number>();
		const fiveHundreds: string[] = [];
		const read = async () => (await (await fetch(`${base}/api/vendors/${fuzzVendor}`)).json()) as { updatedAt: string };
		let before = (await read()).updatedAt;
		let unchangedChecks = 0;
		for (let i = 0; i < REQUESTS; i++) {
			const req = hostileRequest(rng, fuzzVendor, fuzzToken);
			const res = await fetch(`${base}${req.path}`, {
				method: req.method,
				headers: req.headers,
				...(req.body === undefined ? {} : { body: req.body }),
			}).catch((err: Error) => ({ status: -1, text: async () => err.message }));
			const body = await res.text();
			statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
			if (res.status >= 500 || res.status < 0)
				fiveHundreds.push(`${req.method} ${req.path.slice(0, 60)} → ${res.status} ${body.slice(0, 120)}`);
			if (!req.path.includes(fuzzVendor)) continue;
			const after = (await read()).updatedAt;
			if (res.status >= 400) {
				expect(after, `${req.method} ${req.path} answered ${res.status} but changed the vendor`).toBe(before);
				unchangedChecks++;
			}
			before = after;
		}
		console.log(
			`fuzz REST: ${REQUESTS} hostile requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}; 5xx ${fiveHundreds.length}; refused requests checked unchanged ${unchangedChecks}`
		);
		expect(fiveHundreds).toEqual([]);
		expect(engine.child.exitCode).toBeNull();
	}, 180_000);

	it("keeps the control pair streaming under a flood of valid, expensive watches from one socket", async () => {
		const started = Date.now();
		// The attacker runs in a process of its own (see the helper), so it never delays the control pair's clients.
		const flooder = spawnNode("test/helpers/watch-flooder.ts", {}, [live, "5000"]);
		expect(await flooder.exited).toBe(0);
		const { frames, closes } = JSON.parse(flooder.output()) as { frames: number; closes: Record<string, number> };
		await new Promise(r => setTimeout(r, 1_000));
		const ended = Date.now();
		const latencies = watcher.latencies(started, ended);
		const p99 = quantile(latencies, 0.99);
		const gap = watcher.maxGap(started, ended);
		console.log(
			`fuzz watch flood: ${frames} watch frames of ~1900 cells in 5 s, flooder closed ${JSON.stringify(closes)}; control pair: ${latencies.length} positions, p99 ${p99} ms, max gap ${gap} ms`
		);
		expect(closes["4008"]).toBeGreaterThanOrEqual(1);
		expect(p99).toBeLessThan(250);
		expect(gap).toBeLessThan(1_000);
		expect(vendor.sent.filter(ts => ts > started && ts < ended - 300 && !watcher.has(ts))).toEqual([]);
	}, 30_000);

	it("refuses a connection flood from one address beyond the cap, and stays bounded in memory", async () => {
		const sockets = await Promise.all(
			Array.from(
				{ length: 150 },
				() =>
					new Promise<{ ws: WebSocket; status: number }>(resolve => {
						const ws = new WebSocket(live);
						ws.once("open", () => resolve({ ws, status: 101 }));
						ws.once("unexpected-response", (_req, res) => resolve({ ws, status: res.statusCode ?? 0 }));
						ws.once("error", () => resolve({ ws, status: 0 }));
					})
			)
		);
		const opened = sockets.filter(s => s.status === 101).length;
		const refused = sockets.filter(s => s.status === 429).length;
		for (const s of sockets) s.ws.close();
		const rss = rssMb(engine.child.pid!);
		console.log(
			`fuzz connection flood: 150 sockets from one address, ${opened} opened (cap 64, control pair included), ${refused} refused with 429; RSS ${rssStart.toFixed(0)} → ${rss.toFixed(0)} MB`
		);
		expect(opened).toBeLessThanOrEqual(64);
		expect(refused).toBeGreaterThanOrEqual(150 - 64);
		expect(rss - rssStart).toBeLessThan(250);
		expect((await fetch(`${base}/health/live`)).status).toBe(200);
	});
});
