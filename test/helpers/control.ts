import WebSocket from "ws";
import { activeVendor } from "./live.ts";

/** One received position: its `ts` (when the vendor sent it) and when it arrived. */
export type Arrival = { ts: number; at: number };

/** A watcher that records when each position of one vendor arrives (and reconnects if it is closed). */
export class TimingWatcher {
	readonly arrivals: Arrival[] = [];
	/** Every close the server sent this watcher ("code reason"), for failure messages. */
	readonly closes: string[] = [];
	#ws: WebSocket | null = null;
	#stopped = false;
	#subscribed: Promise<void> | null = null;
	#onSnapshot: () => void = () => undefined;
	readonly #url: string;
	readonly #cell: string;
	readonly #vendorId: string;

	constructor(url: string, cell: string, vendorId: string) {
		this.#url = url;
		this.#cell = cell;
		this.#vendorId = vendorId;
	}

	/** Connects (again after every close) and resolves at the first snapshot of the cell, whichever connection brings it. */
	start(timeoutMs = 10_000): Promise<void> {
		this.#subscribed ??= new Promise((resolve, reject) => {
			const timer = setTimeout(
				() => reject(new Error(`no snapshot from ${this.#url} in ${timeoutMs} ms; closes: ${this.closes.join(", ") || "none"}`)),
				timeoutMs
			);
			this.#onSnapshot = () => {
				clearTimeout(timer);
				resolve();
			};
		});
		this.#connect();
		return this.#subscribed;
	}

	#connect(): void {
		const ws = new WebSocket(this.#url);
		this.#ws = ws;
		const watch = () => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ op: "watch", cells: [this.#cell] }));
		ws.on("open", watch);
		ws.on("message", data => {
			const frame = JSON.parse(String(data)) as { op: string; id?: string; ts?: number; code?: string };
			if (frame.op === "snapshot") this.#onSnapshot();
			// As the protocol asks: a snapshot that could not be read (geo not reachable yet) is asked for again.
			else if (frame.op === "error" && frame.code === "UNAVAILABLE") setTimeout(watch, 200);
			else if (frame.op === "pos" && frame.id === this.#vendorId) this.arrivals.push({ ts: frame.ts!, at: Date.now() });
		});
		ws.on("error", () => undefined);
		ws.on("close", (code, reason) => {
			this.closes.push(`${code} ${String(reason)}`);
			if (!this.#stopped) setTimeout(() => this.#connect(), 200);
		});
	}

	/** The longest time without an arrival within [from, to] (the window's edges count as arrivals' bounds). */
	maxGap(from: number, to: number): number {
		const times = [from, ...this.arrivals.map(a => a.at).filter(t => t > from && t < to), to];
		let gap = 0;
		for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
		return gap;
	}

	/** The first arrival at or after `t`. */
	firstAfter(t: number): Arrival | undefined {
		return this.arrivals.find(a => a.at >= t);
	}

	/** Vendor send → arrival, in ms, of the arrivals within [from, to]. */
	latencies(from = 0, to = Number.POSITIVE_INFINITY): number[] {
		return this.arrivals.filter(a => a.at >= from && a.at <= to).map(a => a.at - a.ts);
	}

	has(ts: number): boolean {
		return this.arrivals.some(a => a.ts === ts);
	}

	stop(): void {
		this.#stopped = true;
		this.#ws?.close();
	}
}

/** A vendor socket sending a position every `periodMs`; `sent` holds their `ts`. Reconnects if closed. */
export class SteadyVendor {
	readonly sent: number[] = [];
	#ws: WebSocket | null = null;
	#timer: NodeJS.Timeout | null = null;
	#stopped = false;
	readonly #url: string;
	readonly #at: { lat: number; lng: number };
	readonly #periodMs: number;

	constructor(url: string, at: { lat: number; lng: number }, periodMs = 200) {
		this.#url = url;
		this.#at = at;
		this.#periodMs = periodMs;
	}

	start(): Promise<void> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(this.#url);
			this.#ws = ws;
			ws.on("open", () => {
				this.#timer ??= setInterval(() => this.#send(), this.#periodMs);
				resolve();
			});
			ws.on("error", reject);
			ws.on("close", () => {
				if (!this.#stopped) setTimeout(() => void this.start().catch(() => undefined), 200);
			});
		});
	}

	#send(): void {
		if (this.#ws?.readyState !== WebSocket.OPEN) return;
		const ts = Math.max(Date.now(), (this.sent.at(-1) ?? 0) + 1);
		this.#ws.send(JSON.stringify({ op: "pos", lat: this.#at.lat + (this.sent.length % 10) * 1e-6, lng: this.#at.lng, ts }));
		this.sent.push(ts);
	}

	stop(): void {
		this.#stopped = true;
		if (this.#timer) clearInterval(this.#timer);
		this.#ws?.close();
	}
}

/** The q-quantile of a list of numbers. */
export function quantile(values: number[], q: number): number {
	if (values.length === 0) return Number.NaN;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Everyday load beside a control pair: `vendors` vendor sockets sending once a second from
 * around `at`, and `watchers` watching 2 km around it, spread over `liveUrls`. Counts what
 * the watchers receive; frames are not kept.
 */
export class BackgroundLoad {
	received = 0;
	readonly #vendors: SteadyVendor[] = [];
	readonly #watchers: WebSocket[] = [];

	static async start(
		rest: string,
		liveUrls: string[],
		owner: string,
		at: { lat: number; lng: number },
		counts = { vendors: 50, watchers: 100 }
	): Promise<BackgroundLoad> {
		const load = new BackgroundLoad();
		for (let i = 0; i < counts.vendors; i++) {
			const id = await activeVendor(rest, owner, `Load Cart ${i}`);
			const spot = { lat: at.lat + ((i % 10) - 5) * 0.001, lng: at.lng + (Math.floor(i / 10) - 2) * 0.001 };
			const vendor = new SteadyVendor(`${liveUrls[i % liveUrls.length]}?token=${owner}&vendor=${id}`, spot, 1_000);
			load.#vendors.push(vendor);
			await vendor.start();
		}
		await Promise.all(Array.from({ length: counts.watchers }, (_, i) => load.#watch(liveUrls[i % liveUrls.length]!, at)));
		return load;
	}

	#watch(url: string, at: { lat: number; lng: number }): Promise<void> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url);
			this.#watchers.push(ws);
			ws.on("open", () => {
				ws.send(JSON.stringify({ op: "watch", near: { lat: at.lat, lng: at.lng, radius: 2_000 } }));
				resolve();
			});
			ws.on("message", () => this.received++);
			ws.on("error", reject);
		});
	}

	stop(): void {
		for (const v of this.#vendors) v.stop();
		for (const w of this.#watchers) w.close();
	}
}
