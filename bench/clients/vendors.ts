/**
 * Load generator: vendor sockets sending `pos` frames at a fixed rate, spread evenly in time.
 * `hdg` carries the sub-millisecond part of the send time (ts is whole ms) so watchers can
 * measure vendor frame → watcher frame latency to the microsecond.
 */
import WebSocket from "ws";
import { cpuMeter, serveRequests } from "../lib/ipc.ts";

/** `group`: positions sent are also counted per group (the cluster stage's routing cells). */
export type BenchVendor = { id: string; token?: string; lat: number; lng: number; group?: string };
export type VendorsConnect = { url: string; vendors: BenchVendor[]; localAddresses: string[] };
export type VendorsConnected = { open: number; reconnected: number; dropped: Record<string, number>; errors: Record<string, number> };
export type VendorsSample = {
	sent: number;
	/** Positions sent per vendor group (vendors without a group are not in it). */
	sentByGroup: Record<string, number>;
	errors: Record<string, number>;
	closed: number;
	open: number;
	cpuPercent: number;
	wallMs: number;
};

type Conn = { vendor: BenchVendor; ws: WebSocket; nextAt: number; seq: number };

const TICK_MS = 5;
const JITTER_DEG = 0.00005; // ~5 m: stays inside its res-8 cell
const conns: Conn[] = [];
const errors: Record<string, number> = {};
/** Close codes and reasons of sockets the server closed (a healthy run has none). */
const closes: Record<string, number> = {};
let sent = 0;
let sentByGroup: Record<string, number> = {};
let closed = 0;
let hz = 0;
let timer: NodeJS.Timeout | null = null;
const meter = cpuMeter();

const nowHr = () => performance.timeOrigin + performance.now();

function connectOne(url: string, vendor: BenchVendor, localAddress: string | undefined): Promise<Conn> {
	const qs = new URLSearchParams({ vendor: vendor.id, ...(vendor.token ? { token: vendor.token } : {}) });
	const ws = new WebSocket(`${url}?${qs}`, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
	return new Promise((resolve, reject) => {
		ws.once("open", () => resolve({ vendor, ws, nextAt: 0, seq: 0 }));
		ws.once("unexpected-response", (_req, res) => reject(new Error(`vendor ${vendor.id}: upgrade answered ${res.statusCode}`)));
		ws.once("error", reject);
		ws.on("error", err => {
			const key = `socket error ${err.message}`;
			errors[key] = (errors[key] ?? 0) + 1;
		});
		ws.on("message", data => {
			const text = data.toString();
			if (text.startsWith('{"op":"error"')) {
				const code = (JSON.parse(text) as { code: string }).code;
				errors[code] = (errors[code] ?? 0) + 1;
			}
		});
		ws.on("close", (code, reason) => {
			closed++;
			const key = `close ${code} ${reason.toString()}`.trim();
			closes[key] = (closes[key] ?? 0) + 1;
		});
	});
}

function send(c: Conn, now: number): void {
	const ts = Math.floor(now);
	const lat = c.vendor.lat + (Math.random() - 0.5) * JITTER_DEG;
	const lng = c.vendor.lng + (Math.random() - 0.5) * JITTER_DEG;
	c.ws.send(`{"op":"pos","lat":${lat},"lng":${lng},"ts":${ts},"hdg":${(now - ts) * 100}}`);
	sent++;
	const { group } = c.vendor;
	if (group !== undefined) sentByGroup[group] = (sentByGroup[group] ?? 0) + 1;
}

function tick(): void {
	const period = 1000 / hz;
	const now = nowHr();
	for (const c of conns) {
		if (c.nextAt > now || c.ws.readyState !== WebSocket.OPEN) continue;
		send(c, nowHr());
		c.nextAt += period;
		if (c.nextAt < now - period) c.nextAt = now + period; // fell behind: keep the rate, do not burst
	}
}

serveRequests({
	async connect({ url, vendors, localAddresses }: VendorsConnect) {
		const CONCURRENCY = 64;
		let next = 0;
		const worker = async () => {
			while (next < vendors.length) {
				const i = next++;
				conns.push(await connectOne(url, vendors[i]!, localAddresses[i % localAddresses.length]));
			}
		};
		await Promise.all(Array.from({ length: Math.min(CONCURRENCY, vendors.length) }, worker));
		// A socket the server dropped right after opening is reconnected once, as a phone would; the
		// orchestrator reports it.
		await new Promise(r => setTimeout(r, 300));
		const dropped = { ...closes };
		let reconnected = 0;
		for (const [i, c] of conns.entries()) {
			if (c.ws.readyState === WebSocket.OPEN) continue;
			conns[i] = await connectOne(url, c.vendor, localAddresses[i % localAddresses.length]);
			reconnected++;
		}
		return { open: conns.filter(c => c.ws.readyState === WebSocket.OPEN).length, reconnected, dropped, errors };
	},

	/** Every open vendor sends one position now: all of them online at once, without waiting a whole period of a slow rate. */
	announce() {
		const now = nowHr();
		for (const c of conns) if (c.ws.readyState === WebSocket.OPEN) send(c, now);
		return {};
	},

	/** Sets the send rate per vendor (0 stops); phases are spread evenly over one period. */
	rate({ perVendorHz }: { perVendorHz: number }) {
		hz = perVendorHz;
		if (timer) clearInterval(timer);
		timer = null;
		if (hz <= 0) return {};
		const start = nowHr();
		const period = 1000 / hz;
		conns.forEach((c, i) => {
			c.nextAt = start + (period * i) / conns.length;
		});
		timer = setInterval(tick, TICK_MS);
		return {};
	},

	sample(): VendorsSample {
		const { cpuPercent, wallMs } = meter();
		const out = {
			sent,
			sentByGroup,
			errors: { ...errors },
			closed,
			open: conns.filter(c => c.ws.readyState === WebSocket.OPEN).length,
			cpuPercent,
			wallMs,
		};
		sent = 0;
		sentByGroup = {};
		for (const k of Object.keys(errors)) delete errors[k];
		return out;
	},

	/** Disconnects every socket at once (a dropped connection, as when a phone goes away). */
	close() {
		if (timer) clearInterval(timer);
		for (const c of conns) c.ws.terminate();
		conns.length = 0;
		return {};
	},
});
