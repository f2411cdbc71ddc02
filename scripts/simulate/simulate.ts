/**
 * Vendor simulator: onboards N vendors through the REST API, opens one vendor socket each and
 * moves them through a city (motion.ts). Each socket signs in with its first frame (no token in
 * the URL) and refreshes its token over the socket halfway through its life, as an app with
 * short-lived session tokens does. Ctrl-C closes every socket, which takes the vendors offline.
 * Works against any running engine (`--url`, `--live-url`).
 */
import { mintDevToken } from "../../lib/auth.ts";
import { advance, createMotion, DEFAULT_MOTION, fix, seededRng, type MotionOptions, type Rng, type VendorMotion } from "./motion.ts";
import { onboardAll, waitForEngine, type Identity } from "./onboarding.ts";
import { fail, readOptions, type Options } from "./options.ts";

/** A simulated vendor: its REST identity, its motion and its socket. */
type SimVendor = {
	index: number;
	id: string;
	owner: string;
	motion: VendorMotion;
	socket: WebSocket | undefined;
	/** The socket answered `authed`: positions may go. */
	authed: boolean;
	/** When the socket's token is refreshed next (epoch ms). */
	refreshAt: number;
	/** Consecutive failed connects, for the reconnect backoff. */
	failures: number;
	reconnectAt: number;
};

const LOG_EVERY_S = 5;

/** Counters behind the progress line. */
const stats = { connected: 0, sent: 0, sentLastSecond: 0, errors: new Map<string, number>(), lastError: "" };

function countError(code: string, message: string): void {
	stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);
	stats.lastError = `${code}: ${message}`.slice(0, 120);
}

/** Sends the socket a fresh token (the first frame, or a refresh) and schedules the next refresh. */
async function signIn(opts: Options, v: SimVendor, socket: WebSocket): Promise<void> {
	v.refreshAt = Date.now() + (opts.tokenTtlS * 1000) / 2;
	const token = await mintDevToken(opts.secret, v.owner, opts.tokenTtlS);
	if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ op: "auth", token }));
}

function connect(opts: Options, v: SimVendor): void {
	const socket = new WebSocket(`${opts.liveUrl}?vendor=${encodeURIComponent(v.id)}`);
	v.socket = socket;
	v.authed = false;
	let opened = false;
	let ended = false;
	const end = (code: string, reason: string) => {
		if (ended) return;
		ended = true;
		if (opened) stats.connected--;
		if (v.socket !== socket) return;
		v.socket = undefined;
		if (stopping) return;
		// Closed by the server or never opened: try again with exponential backoff (1 s … 30 s).
		countError(code, reason);
		v.failures++;
		v.reconnectAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(5, v.failures - 1)) * (0.75 + Math.random() / 2);
	};
	socket.onopen = () => {
		opened = true;
		v.failures = 0;
		stats.connected++;
		signIn(opts, v, socket).catch(err => countError("AUTH_FAILED", (err as Error).message));
	};
	socket.onmessage = event => {
		try {
			const msg = JSON.parse(String(event.data)) as { op?: string; code?: string; message?: string };
			if (msg.op === "authed") v.authed = true;
			else if (msg.op === "error") countError(msg.code ?? "ERROR", msg.message ?? "");
		} catch {
			countError("BAD_FRAME", "the server sent a frame that is not JSON");
		}
	};
	socket.onclose = event => end(opened ? `CLOSED_${event.code}` : "CONNECT_FAILED", event.reason || `socket of ${v.id} closed`);
	// A refused connection may report only an error, never a close.
	socket.onerror = () => end(opened ? "SOCKET_ERROR" : "CONNECT_FAILED", `socket of ${v.id} failed`);
}

/** One step of one vendor: move it, take it off/online, send its fix. */
function tick(opts: Options, motion: MotionOptions, rng: Rng, v: SimVendor, dtS: number): void {
	v.motion = advance(v.motion, dtS, rng, motion);
	const reading = fix(v.motion, rng);
	if (!reading) {
		if (v.socket) {
			const socket = v.socket;
			v.socket = undefined;
			socket.close(1000, "vendor went offline");
		}
		return;
	}
	if (!v.socket) {
		if (Date.now() >= v.reconnectAt) connect(opts, v);
		return;
	}
	if (v.socket.readyState !== WebSocket.OPEN || !v.authed) return;
	if (Date.now() >= v.refreshAt) signIn(opts, v, v.socket).catch(err => countError("AUTH_FAILED", (err as Error).message));
	v.socket.send(JSON.stringify({ op: "pos", ...reading, ts: Date.now() }));
	stats.sent++;
	stats.sentLastSecond++;
}

function progressLine(total: number): string {
	const errors = [...stats.errors.values()].reduce((a, b) => a + b, 0);
	const byCode = [...stats.errors].map(([code, n]) => `${code} ${n}`).join(", ");
	return `vendors connected ${stats.connected}/${total} · positions/s ${stats.sentLastSecond} · sent ${stats.sent} · errors ${errors}${byCode ? ` (${byCode})` : ""}`;
}

let stopping = false;

async function main(): Promise<void> {
	const opts = readOptions();
	const motion: MotionOptions = { ...DEFAULT_MOTION, bbox: opts.bbox, offlinePerHour: opts.offlinePerHour };
	const rng = seededRng(opts.seed);
	const tty = process.stdout.isTTY;
	process.stdout.write(
		`simulating ${opts.vendors} vendors in ${opts.bbox.join(",")} at ${opts.hz} Hz against ${opts.url} and ${opts.liveUrl}\n`
	);

	const vendors: SimVendor[] = [];
	let ticker: NodeJS.Timeout | undefined;
	let reporter: NodeJS.Timeout | undefined;
	let stopped: (() => void) | undefined;
	const finished = new Promise<void>(resolve => (stopped = resolve));

	const stop = async (why: string) => {
		if (stopping) {
			process.stdout.write("\nstopping now\n");
			process.exit(1);
		}
		stopping = true;
		clearInterval(ticker);
		clearInterval(reporter);
		const open = vendors.filter(v => v.socket?.readyState === WebSocket.OPEN).map(v => v.socket!);
		const closed = Promise.all(open.map(s => new Promise(r => s.addEventListener("close", r, { once: true }))));
		for (const v of vendors) v.socket?.close(1000, "simulator stopped");
		await Promise.race([closed, new Promise(r => setTimeout(r, 5000))]);
		process.stdout.write(
			`${tty ? "\r\x1b[K" : ""}${progressLine(vendors.length)}\nstopped (${why}): ${open.length} vendor sockets closed, ${stats.sent} positions sent\n`
		);
		stopped?.();
	};
	process.on("SIGINT", () => void stop("SIGINT"));
	process.on("SIGTERM", () => void stop("SIGTERM"));

	let identities: Identity[];
	try {
		await waitForEngine(opts, () => stopping);
		identities = await onboardAll(opts, () => stopping);
	} catch (err) {
		fail(`onboarding failed: ${(err as Error).message}`);
	}
	if (stopping) return finished;
	process.stdout.write(`${identities.length} vendors onboarded and active\n`);
	for (const [index, { id, owner }] of identities.entries()) {
		const initial = { socket: undefined, authed: false, refreshAt: 0, failures: 0, reconnectAt: 0 };
		vendors.push({ index, id, owner, motion: createMotion(rng, motion), ...initial });
	}

	// Each vendor sends on its own phase of the period, so load is spread over the second.
	const periodMs = 1000 / opts.hz;
	const sliceMs = Math.max(10, Math.min(100, periodMs));
	const slices = Math.max(1, Math.round(periodMs / sliceMs));
	let slice = 0;
	ticker = setInterval(() => {
		for (let i = slice; i < vendors.length; i += slices) tick(opts, motion, rng, vendors[i]!, periodMs / 1000);
		slice = (slice + 1) % slices;
	}, periodMs / slices);

	// A terminal gets one line rewritten every second; a log gets a line every few seconds.
	let reports = 0;
	reporter = setInterval(() => {
		const line = progressLine(vendors.length);
		stats.sentLastSecond = 0;
		if (tty) process.stdout.write(`\r\x1b[K${line}`);
		else if (reports++ % LOG_EVERY_S === 0) process.stdout.write(`${line}\n`);
	}, 1000);

	if (opts.durationS !== undefined) setTimeout(() => void stop(`duration ${opts.durationS}s`), opts.durationS * 1000).unref();
	return finished;
}

await main();
process.exit(0);
