/**
 * Load generator: watcher sockets. Each sends one `watch` with its cells, then counts the
 * frames it receives by their `op` (read from the first bytes, no parse) and parses a
 * sample of `pos` frames to measure latency (see clients/vendors.ts for the hdg timestamp).
 */
import WebSocket from "ws";
import { cpuMeter, serveRequests } from "../lib/ipc.ts";

export type WatchersConnect = { url: string; watchSets: string[][]; localAddresses: string[]; sampleEvery: number };
export type WatchersSample = {
	pos: number;
	gone: number;
	errors: number;
	snapshots: number;
	snapshotVendors: number;
	open: number;
	closed: number;
	latenciesMs: number[];
	cpuPercent: number;
	wallMs: number;
};

const MAX_SAMPLES = 200_000;
const sockets: WebSocket[] = [];
let sampleEvery = 50;
let counter = 0;
const latencies: number[] = [];
const totals = { pos: 0, gone: 0, errors: 0, snapshots: 0, snapshotVendors: 0, closed: 0 };
const meter = cpuMeter();

// Frames start with {"op":"<op>" — byte 7 tells pos / gone / snapshot / error / pong apart.
const P = "p".charCodeAt(0);
const G = "g".charCodeAt(0);
const S = "s".charCodeAt(0);
const E = "e".charCodeAt(0);

function onMessage(data: Buffer): void {
	const c = data[7];
	if (c === P && data[8] === 111 /* o */ && data[9] === 115 /* s */) {
		totals.pos++;
		if (++counter % sampleEvery === 0 && latencies.length < MAX_SAMPLES) {
			const msg = JSON.parse(data.toString()) as { ts: number; hdg: number };
			const now = performance.timeOrigin + performance.now();
			latencies.push(now - (msg.ts + msg.hdg / 100));
		}
	} else if (c === G) totals.gone++;
	else if (c === S) {
		totals.snapshots++;
		totals.snapshotVendors += (JSON.parse(data.toString()) as { vendors: unknown[] }).vendors.length;
	} else if (c === E) totals.errors++;
}

function connectOne(url: string, cells: string[], localAddress: string | undefined): Promise<void> {
	const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
	sockets.push(ws);
	return new Promise((resolve, reject) => {
		ws.once("open", () => {
			ws.send(JSON.stringify({ op: "watch", cells }));
			resolve();
		});
		ws.once("unexpected-response", (_req, res) => reject(new Error(`watcher upgrade answered ${res.statusCode}`)));
		ws.once("error", reject);
		ws.on("message", onMessage as (data: WebSocket.RawData) => void);
		ws.on("close", () => totals.closed++);
	});
}

serveRequests({
	async connect({ url, watchSets, localAddresses, sampleEvery: every }: WatchersConnect) {
		sampleEvery = every;
		const CONCURRENCY = 128;
		let next = 0;
		const worker = async () => {
			while (next < watchSets.length) {
				const i = next++;
				await connectOne(url, watchSets[i]!, localAddresses[i % localAddresses.length]);
			}
		};
		await Promise.all(Array.from({ length: Math.min(CONCURRENCY, watchSets.length) }, worker));
		return { open: sockets.filter(s => s.readyState === WebSocket.OPEN).length };
	},

	/** Counts since the previous sample (snapshots and closes are running totals). */
	sample(): WatchersSample {
		const { cpuPercent, wallMs } = meter();
		const out: WatchersSample = {
			...totals,
			open: sockets.filter(s => s.readyState === WebSocket.OPEN).length,
			latenciesMs: latencies.splice(0),
			cpuPercent,
			wallMs,
		};
		totals.pos = 0;
		totals.gone = 0;
		totals.errors = 0;
		return out;
	},

	/** Disconnects every socket at once (a dropped connection, as when a phone goes away). */
	close() {
		for (const ws of sockets) ws.terminate();
		sockets.length = 0;
		return {};
	},
});
