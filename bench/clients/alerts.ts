/**
 * Load generator of the alerts stage: drive vendors hopping from one of their circles to the next
 * (each hop leaves a circle and enters another, so every position fires one `enter`), the
 * circles' owners signed in on customer sockets, and a healthy webhook receiver. One process, one
 * clock: latency is a vendor frame's send time (kept per vendor and `ts`) → the alert frame or
 * webhook request about that position received here.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import WebSocket from "ws";
import { cpuMeter, serveRequests } from "../lib/ipc.ts";

export type DriveVendor = { id: string; token: string; path: { lat: number; lng: number }[] };
export type AlertsConnect = { url: string; vendors: DriveVendor[]; customers: { token: string }[]; localAddresses: string[] };
export type AlertsSample = {
	hops: number;
	/** Alert frames about a hop of this process's vendors, and their latencies (ms). */
	alerts: number;
	alertMs: number[];
	/** Webhook requests received: about a hop (lag from its send time) and all of them (lag from meta.timestamp). */
	webhooks: number;
	webhookMs: number[];
	webhookFromEventMs: number[];
	errors: Record<string, number>;
	cpuPercent: number;
	wallMs: number;
};

type Driver = { vendor: DriveVendor; ws: WebSocket; step: number; nextAt: number };
type Fired = { vendorId: string; position: { ts: number } };

const TICK_MS = 5;
/** Send times kept this long for a matching alert or webhook (longer: counted as lost). */
const KEEP_MS = 30_000;
const nowHr = () => performance.timeOrigin + performance.now();
const drivers: Driver[] = [];
const customers: WebSocket[] = [];
const sentAt = new Map<string, number>();
const counts = { hops: 0, alerts: 0, webhooks: 0 };
const alertMs: number[] = [];
const webhookMs: number[] = [];
const webhookFromEventMs: number[] = [];
const errors: Record<string, number> = {};
const meter = cpuMeter();
let timer: NodeJS.Timeout | null = null;
let receiver: Server | null = null;

const count = (key: string) => {
	errors[key] = (errors[key] ?? 0) + 1;
};
const keyOf = (f: Fired) => `${f.vendorId}:${f.position.ts}`;

function open(url: string, localAddress: string): Promise<WebSocket> {
	const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
	return new Promise((resolve, reject) => {
		ws.once("open", () => resolve(ws));
		ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
		ws.once("error", reject);
		ws.on("close", code => count(`close ${code}`));
	});
}

function onAlert(data: Buffer): void {
	const receivedAt = nowHr();
	const text = data.toString();
	if (text.startsWith('{"op":"error"')) {
		count(`error ${(JSON.parse(text) as { code: string }).code}`);
		return;
	}
	if (!text.startsWith('{"op":"alert"')) return;
	const sent = sentAt.get(keyOf(JSON.parse(text) as Fired));
	if (sent === undefined) return;
	counts.alerts++;
	alertMs.push(receivedAt - sent);
}

function hop(d: Driver): void {
	const now = nowHr();
	const ts = Math.floor(now);
	const p = d.vendor.path[d.step++ % d.vendor.path.length]!;
	sentAt.set(`${d.vendor.id}:${ts}`, now);
	d.ws.send(`{"op":"pos","lat":${p.lat},"lng":${p.lng},"ts":${ts}}`);
	counts.hops++;
}

function tick(period: number): void {
	const now = nowHr();
	for (const d of drivers) {
		if (d.nextAt > now || d.ws.readyState !== WebSocket.OPEN) continue;
		hop(d);
		d.nextAt += period;
		if (d.nextAt < now - period) d.nextAt = now + period;
	}
}

function forgetOld(): void {
	const oldest = nowHr() - KEEP_MS;
	for (const [key, at] of sentAt) {
		if (at >= oldest) break; // insertion order = send order
		sentAt.delete(key);
	}
}

/** A healthy receiver: answers 204 at once, times each request against its hop's send time and its event's time. */
function onWebhook(body: string): void {
	const receivedAt = nowHr();
	const event = JSON.parse(body) as { meta: { timestamp: string }; data: Fired };
	counts.webhooks++;
	webhookFromEventMs.push(receivedAt - Date.parse(event.meta.timestamp));
	const sent = sentAt.get(keyOf(event.data));
	if (sent !== undefined) webhookMs.push(receivedAt - sent);
}

serveRequests({
	async connect({ url, vendors, customers: owners, localAddresses }: AlertsConnect) {
		const address = (i: number) => localAddresses[i % localAddresses.length]!;
		for (const [i, c] of owners.entries()) {
			const ws = await open(`${url}?token=${encodeURIComponent(c.token)}`, address(i));
			ws.on("message", onAlert);
			customers.push(ws);
		}
		for (const [i, vendor] of vendors.entries()) {
			const qs = new URLSearchParams({ vendor: vendor.id, token: vendor.token });
			drivers.push({ vendor, ws: await open(`${url}?${qs}`, address(i)), step: 0, nextAt: 0 });
		}
		return { customers: customers.length, vendors: drivers.length };
	},

	/** Starts the receiver on a free port; answers its URL. */
	async receive() {
		receiver = createServer((req, res) => {
			let body = "";
			req.setEncoding("utf8");
			req.on("data", chunk => (body += chunk));
			req.on("end", () => {
				res.writeHead(204).end();
				onWebhook(body);
			});
		});
		await new Promise<void>(resolve => receiver!.listen(0, "127.0.0.1", resolve));
		return { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks` };
	},

	/** Every vendor hops at `hz` (0 stops), phases spread evenly over one period. */
	drive({ hz }: { hz: number }) {
		if (timer) clearInterval(timer);
		timer = null;
		if (hz <= 0) return {};
		const period = 1000 / hz;
		const start = nowHr();
		drivers.forEach((d, i) => {
			d.nextAt = start + (period * i) / drivers.length;
		});
		timer = setInterval(() => tick(period), TICK_MS);
		return {};
	},

	sample(): AlertsSample {
		forgetOld();
		const out = {
			...counts,
			alertMs: alertMs.splice(0),
			webhookMs: webhookMs.splice(0),
			webhookFromEventMs: webhookFromEventMs.splice(0),
			errors: { ...errors },
			...meter(),
		};
		counts.hops = 0;
		counts.alerts = 0;
		counts.webhooks = 0;
		for (const k of Object.keys(errors)) delete errors[k];
		return out;
	},

	close() {
		if (timer) clearInterval(timer);
		for (const ws of [...customers, ...drivers.map(d => d.ws)]) ws.terminate();
		receiver?.close();
		return {};
	},
});
