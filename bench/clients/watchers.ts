/**
 * Load generator: watcher sockets. Each sends one `watch` (cells or a bbox) as soon as it is
 * open, then counts the frames it receives by their `op` (read from the first bytes, no parse)
 * and parses a sample of `pos` frames to measure latency (see clients/vendors.ts for the hdg
 * timestamp). With `recordSnapshots`, each socket also keeps its first snapshot: the time from
 * sending its watch to receiving the snapshot and the vendor ids in it (the rush-hour opening).
 */
import WebSocket from "ws";
import { cpuMeter, serveRequests } from "../lib/ipc.ts";
import type { BBox } from "../servers/cells.ts";

export type WatchRequest = { cells: string[] } | { bbox: BBox };
export type WatchersConnect = {
	url: string;
	watches: WatchRequest[];
	localAddresses: string[];
	sampleEvery: number;
	/** Sockets opening at the same time (all of them: every watcher connects at once). */
	concurrency?: number;
	recordSnapshots?: boolean;
};
export type WatchersSample = {
	pos: number;
	gone: number;
	errors: number;
	snapshots: number;
	snapshotVendors: number;
	open: number;
	closed: number;
	latenciesMs: number[];
	/** With `perSocket`: `pos` frames per socket, in the order of the watches (since the last sample). */
	posBySocket?: number[];
	cpuPercent: number;
	wallMs: number;
};
/** One socket's first snapshot, in the order of the watches it was given. */
export type SnapshotRecord = {
	/** When its watch was sent, epoch ms (comparable across processes on one machine). */
	watchSentAt: number;
	/** Watch sent → snapshot received; null while none arrived. */
	snapshotMs: number | null;
	vendorIds: string[] | null;
};

const MAX_SAMPLES = 200_000;
const DEFAULT_CONCURRENCY = 128;
const sockets: WebSocket[] = [];
const posBySocket: number[] = [];
let sampleEvery = 50;
let counter = 0;
const latencies: number[] = [];
const totals = { pos: 0, gone: 0, errors: 0, snapshots: 0, snapshotVendors: 0, closed: 0 };
const records: SnapshotRecord[] = [];
/** Resolves `snapshots()` once every recorded socket has its snapshot. */
let allSnapshots: (() => void) | null = null;
let recordedSnapshots = 0;
const meter = cpuMeter();

const nowMs = () => performance.timeOrigin + performance.now();

// Frames start with {"op":"<op>" — byte 7 tells pos / gone / snapshot / error / pong apart.
const P = "p".charCodeAt(0);
const G = "g".charCodeAt(0);
const S = "s".charCodeAt(0);
const E = "e".charCodeAt(0);

function onSnapshot(data: Buffer, record: SnapshotRecord | undefined): void {
	const receivedAt = nowMs();
	const vendors = (JSON.parse(data.toString()) as { vendors: { id: string }[] }).vendors;
	totals.snapshots++;
	totals.snapshotVendors += vendors.length;
	if (!record || record.snapshotMs !== null) return;
	record.snapshotMs = receivedAt - record.watchSentAt;
	record.vendorIds = vendors.map(v => v.id);
	if (++recordedSnapshots === records.length) allSnapshots?.();
}

function onMessage(data: Buffer, index: number, record: SnapshotRecord | undefined): void {
	const c = data[7];
	if (c === P && data[8] === 111 /* o */ && data[9] === 115 /* s */) {
		totals.pos++;
		posBySocket[index]!++;
		if (++counter % sampleEvery === 0 && latencies.length < MAX_SAMPLES) {
			const msg = JSON.parse(data.toString()) as { ts: number; hdg: number };
			latencies.push(nowMs() - (msg.ts + msg.hdg / 100));
		}
	} else if (c === G) totals.gone++;
	else if (c === S) onSnapshot(data, record);
	else if (c === E) totals.errors++;
}

function connectOne(url: string, watch: WatchRequest, localAddress: string | undefined, record: SnapshotRecord | undefined): Promise<void> {
	const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
	const index = sockets.push(ws) - 1;
	posBySocket[index] = 0;
	return new Promise((resolve, reject) => {
		ws.once("open", () => {
			if (record) record.watchSentAt = nowMs();
			ws.send(JSON.stringify({ op: "watch", ...watch }));
			resolve();
		});
		ws.once("unexpected-response", (_req, res) => reject(new Error(`watcher upgrade answered ${res.statusCode}`)));
		ws.once("error", reject);
		ws.on("message", (data: Buffer) => onMessage(data, index, record));
		ws.on("close", () => totals.closed++);
	});
}

serveRequests({
	async connect({ url, watches, localAddresses, sampleEvery: every, concurrency, recordSnapshots }: WatchersConnect) {
		sampleEvery = every;
		const batch = recordSnapshots ? watches.map(() => ({ watchSentAt: NaN, snapshotMs: null, vendorIds: null })) : [];
		records.push(...batch);
		let next = 0;
		const worker = async () => {
			while (next < watches.length) {
				const i = next++;
				await connectOne(url, watches[i]!, localAddresses[i % localAddresses.length], batch[i]);
			}
		};
		await Promise.all(Array.from({ length: Math.min(concurrency ?? DEFAULT_CONCURRENCY, watches.length) }, worker));
		return { open: sockets.filter(s => s.readyState === WebSocket.OPEN).length };
	},

	/** The recorded snapshots, once every socket has one or `timeoutMs` has passed (then some are null). */
	async snapshots({ timeoutMs }: { timeoutMs: number }): Promise<SnapshotRecord[]> {
		if (recordedSnapshots < records.length) {
			await new Promise<void>(resolve => {
				const timer = setTimeout(resolve, timeoutMs);
				allSnapshots = () => {
					clearTimeout(timer);
					resolve();
				};
			});
			allSnapshots = null;
		}
		return records;
	},

	/** Counts since the previous sample (snapshots and closes are running totals). */
	sample({ perSocket }: { perSocket?: boolean } = {}): WatchersSample {
		const { cpuPercent, wallMs } = meter();
		const out: WatchersSample = {
			...totals,
			open: sockets.filter(s => s.readyState === WebSocket.OPEN).length,
			latenciesMs: latencies.splice(0),
			...(perSocket ? { posBySocket: [...posBySocket] } : {}),
			cpuPercent,
			wallMs,
		};
		posBySocket.fill(0);
		totals.pos = 0;
		totals.gone = 0;
		totals.errors = 0;
		return out;
	},

	/** Disconnects every socket at once (a dropped connection, as when a phone goes away); the next connect starts afresh. */
	close() {
		for (const ws of sockets) ws.terminate();
		sockets.length = 0;
		posBySocket.length = 0;
		records.length = 0;
		recordedSnapshots = 0;
		totals.snapshots = 0;
		totals.snapshotVendors = 0;
		return {};
	},
});
