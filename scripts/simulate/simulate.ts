/**
 * Vendor simulator: onboards N vendors through the REST API, opens one vendor socket each and
 * moves them through a city (motion.ts). Ctrl-C closes every socket, which takes the
 * vendors offline. Works against any running engine (`--url`, `--live-url`).
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../../config/index.ts";
import { mintDevToken } from "../../lib/auth.ts";
import { isValidBBox } from "../../gateways/live/cells.ts";
import { advance, createMotion, DEFAULT_CITY_BBOX, DEFAULT_MOTION, fix, seededRng, type BBox, type MotionOptions, type Rng, type VendorMotion } from "./motion.ts";

const USAGE = `usage: npm run simulate -- [--vendors 50] [--bbox w,s,e,n] [--hz 1] [--duration <seconds>]
       [--url http://127.0.0.1:3000] [--live-url ws://127.0.0.1:3001/live] [--token-secret <secret>]
       [--prefix sim] [--seed 1] [--offline-per-hour 2] [--wait 30]`;

type Options = {
	vendors: number;
	bbox: BBox;
	hz: number;
	durationS: number | undefined;
	url: string;
	liveUrl: string;
	secret: string;
	prefix: string;
	seed: number;
	offlinePerHour: number;
	/** How long to wait for an engine that is still starting. */
	waitS: number;
};

/** A simulated vendor: its REST identity, its motion and its socket. */
type SimVendor = {
	index: number;
	id: string;
	token: string;
	motion: VendorMotion;
	socket: WebSocket | undefined;
	/** Consecutive failed connects, for the reconnect backoff. */
	failures: number;
	reconnectAt: number;
};

const ONBOARD_CONCURRENCY = 8;
const LOG_EVERY_S = 5;
const TOKEN_TTL_S = 7 * 24 * 3600;
const CATEGORIES = ["tacos", "coffee", "burgers", "ice cream", "crepes", "falafel", "pizza", "vegan", "bakery", "bbq", "fruit", "flowers"];
const ADJECTIVES = ["Sunny", "Rolling", "Little", "Golden", "Urban", "Happy", "Midnight", "Green", "Spicy", "Corner", "Lucky", "Wild"];
const KINDS = ["Truck", "Cart", "Stand", "Bike", "Van", "Kitchen"];

function fail(message: string): never {
	process.stderr.write(`${message}\n`);
	process.exit(2);
}

function number(raw: string, name: string, min: number, max: number, integer = false): number {
	const n = Number(raw);
	if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
		fail(`--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${raw}"\n${USAGE}`);
	}
	return n;
}

function parseBBox(raw: string): BBox {
	const parts = raw.split(",").map(v => (v.trim() === "" ? NaN : Number(v)));
	// West < east: the motion model does not cross the antimeridian; the map page shows no farther than ±85°.
	if (!isValidBBox(parts) || parts[0] >= parts[2] || parts[1] < -85 || parts[3] > 85) {
		fail(`--bbox must be west,south,east,north with west < east and south < north, got "${raw}"\n${USAGE}`);
	}
	return parts;
}

/** `--bbox -9.15,38.7,…`: parseArgs would take a value starting with "-" for an option, so glue it on. */
function withNegativeValues(argv: string[]): string[] {
	const out: string[] = [];
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i]!;
		const next = argv[i + 1];
		if (arg.startsWith("--") && !arg.includes("=") && next !== undefined && /^-\d/.test(next)) {
			out.push(`${arg}=${next}`);
			i++;
		} else out.push(arg);
	}
	return out;
}

function readOptions(): Options {
	const { values } = parseArgs({
		args: withNegativeValues(process.argv.slice(2)),
		options: {
			vendors: { type: "string", default: "50" },
			bbox: { type: "string", default: DEFAULT_CITY_BBOX.join(",") },
			hz: { type: "string", default: "1" },
			duration: { type: "string" },
			url: { type: "string" },
			"live-url": { type: "string" },
			"token-secret": { type: "string" },
			prefix: { type: "string", default: "sim" },
			seed: { type: "string", default: "1" },
			"offline-per-hour": { type: "string", default: String(DEFAULT_MOTION.offlinePerHour) },
			wait: { type: "string", default: "30" },
			help: { type: "boolean", short: "h" },
		},
	});
	if (values.help) {
		process.stdout.write(`${USAGE}\n`);
		process.exit(0);
	}
	// The engine's config supplies defaults only: with every option given, the environment is not read.
	let config: Config | undefined;
	const engineConfig = (): Config => {
		try {
			return (config ??= loadConfig());
		} catch (err) {
			fail(err instanceof ConfigError ? err.message : String(err));
		}
	};
	const url = (values.url ?? `http://127.0.0.1:${engineConfig().port}`).replace(/\/+$/, "");
	if (!/^https?:\/\/[^/]+/.test(url)) fail(`--url must be an http(s) URL, got "${url}"`);
	const liveUrl = values["live-url"] ?? `${url.replace(/^http/, "ws").replace(/:\d+$/, "")}:${engineConfig().livePort}/live`;
	if (!/^wss?:\/\/[^/]+/.test(liveUrl)) fail(`--live-url must be a ws(s) URL, got "${liveUrl}"`);
	const secret = values["token-secret"] ?? engineConfig().devSecret;
	if (!secret) fail("No dev token secret: pass --token-secret or set AUTH_DEV_SECRET (the engine's), or run where the engine keeps its DATA_DIR");
	if (!/^[\w-]{1,32}$/.test(values.prefix)) fail(`--prefix must be 1-32 letters, digits, '_' or '-', got "${values.prefix}"`);
	return {
		vendors: number(values.vendors, "vendors", 1, 20_000, true),
		bbox: parseBBox(values.bbox),
		hz: number(values.hz, "hz", 0.05, 50),
		durationS: values.duration === undefined ? undefined : number(values.duration, "duration", 1, 7 * 24 * 3600),
		url,
		liveUrl,
		secret,
		prefix: values.prefix,
		seed: number(values.seed, "seed", 0, 2 ** 32 - 1, true),
		offlinePerHour: number(values["offline-per-hour"], "offline-per-hour", 0, 3600),
		waitS: number(values.wait, "wait", 0, 3600),
	};
}

/** Counters behind the progress line. */
const stats = { connected: 0, sent: 0, sentLastSecond: 0, errors: new Map<string, number>(), lastError: "" };

function countError(code: string, message: string): void {
	stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);
	stats.lastError = `${code}: ${message}`.slice(0, 120);
}

async function rest<T>(opts: Options, token: string, method: string, path: string, body?: unknown): Promise<T> {
	let res: Response;
	try {
		res = await fetch(`${opts.url}${path}`, {
			method,
			headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
			body: body === undefined ? undefined : JSON.stringify(body),
			signal: AbortSignal.timeout(15_000),
		});
	} catch (err) {
		const cause = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause;
		const why = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (err as Error).message;
		throw new Error(`cannot reach the engine at ${opts.url} (${why}); is it running? (npm start)`);
	}
	const text = await res.text();
	if (!res.ok) {
		let detail = text.slice(0, 200);
		try {
			const err = JSON.parse(text) as { type?: string; message?: string };
			detail = `${err.type ?? res.status}: ${err.message ?? ""}`;
		} catch {
			// Not JSON: the raw text is the detail.
		}
		const hint = detail.startsWith("SUBSCRIPTION_REQUIRED") ? "; the engine runs with REQUIRE_SUBSCRIPTION=true and simulated vendors have no subscription" : "";
		throw new Error(`${method} ${path} answered ${res.status} (${detail})${hint}`);
	}
	return (text ? JSON.parse(text) : undefined) as T;
}

type VendorBody = { id: string; name: string; status: string };

function profileOf(index: number, rng: Rng) {
	const pick = <T>(list: readonly T[]) => list[Math.floor(rng() * list.length)]!;
	const categories = [...new Set([pick(CATEGORIES), ...(rng() < 0.4 ? [pick(CATEGORIES)] : [])])];
	return {
		name: `${pick(ADJECTIVES)} ${categories[0]![0]!.toUpperCase()}${categories[0]!.slice(1)} ${pick(KINDS)} ${index + 1}`,
		description: "A simulated vendor (npm run simulate).",
		categories,
	};
}

/** The vendor of user `user_<prefix>_<index>`: reused when it exists (re-runs add no duplicates), active. */
async function onboard(opts: Options, index: number): Promise<{ id: string; token: string }> {
	const token = await mintDevToken(opts.secret, `user_${opts.prefix}_${index}`, TOKEN_TTL_S);
	const mine = await rest<VendorBody[] | { rows: VendorBody[] }>(opts, token, "GET", "/api/vendors?owner=me");
	let vendor = (Array.isArray(mine) ? mine : mine.rows)[0];
	vendor ??= await rest<VendorBody>(opts, token, "POST", "/api/vendors", profileOf(index, seededRng(opts.seed * 100_003 + index)));
	if (vendor.status !== "active") await rest(opts, token, "POST", `/api/vendors/${encodeURIComponent(vendor.id)}/status`, { status: "active" });
	return { id: vendor.id, token };
}

/** An engine that is still starting refuses connections or answers 404/503 for a moment: wait for it. */
async function waitForEngine(opts: Options): Promise<void> {
	const deadline = Date.now() + opts.waitS * 1000;
	let announced = false;
	for (;;) {
		const status = await fetch(`${opts.url}/api/vendors?pageSize=1`, { signal: AbortSignal.timeout(5_000) }).then(r => r.status, () => 0);
		// Past the deadline, onboarding reports what the engine answers (or that nothing listens).
		if (status === 200 || Date.now() > deadline || stopping) return;
		if (!announced) process.stdout.write(`waiting up to ${opts.waitS} s for the engine at ${opts.url} (${status ? `it answers ${status}` : "not reachable yet"})…\n`);
		announced = true;
		await new Promise(r => setTimeout(r, 250));
	}
}

async function onboardAll(opts: Options): Promise<Array<{ id: string; token: string }>> {
	const out = new Array<{ id: string; token: string }>(opts.vendors);
	let next = 0;
	let done = 0;
	const worker = async () => {
		while (next < opts.vendors && !stopping) {
			const i = next++;
			out[i] = await onboard(opts, i);
			done++;
			if (process.stdout.isTTY) process.stdout.write(`\r\x1b[Konboarding vendors ${done}/${opts.vendors}`);
		}
	};
	await Promise.all(Array.from({ length: Math.min(ONBOARD_CONCURRENCY, opts.vendors) }, worker));
	if (process.stdout.isTTY) process.stdout.write("\r\x1b[K");
	return out;
}

function connect(opts: Options, v: SimVendor): void {
	const socket = new WebSocket(`${opts.liveUrl}?token=${encodeURIComponent(v.token)}&vendor=${encodeURIComponent(v.id)}`);
	v.socket = socket;
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
	};
	socket.onmessage = event => {
		try {
			const msg = JSON.parse(String(event.data)) as { op?: string; code?: string; message?: string };
			if (msg.op === "error") countError(msg.code ?? "ERROR", msg.message ?? "");
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
	if (v.socket.readyState !== WebSocket.OPEN) return;
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
	process.stdout.write(`simulating ${opts.vendors} vendors in ${opts.bbox.join(",")} at ${opts.hz} Hz against ${opts.url} and ${opts.liveUrl}\n`);

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
		process.stdout.write(`${tty ? "\r\x1b[K" : ""}${progressLine(vendors.length)}\nstopped (${why}): ${open.length} vendor sockets closed, ${stats.sent} positions sent\n`);
		stopped?.();
	};
	process.on("SIGINT", () => void stop("SIGINT"));
	process.on("SIGTERM", () => void stop("SIGTERM"));

	let identities;
	try {
		await waitForEngine(opts);
		identities = await onboardAll(opts);
	} catch (err) {
		fail(`onboarding failed: ${(err as Error).message}`);
	}
	if (stopping) return finished;
	process.stdout.write(`${identities.length} vendors onboarded and active\n`);
	for (const [index, { id, token }] of identities.entries()) {
		vendors.push({ index, id, token, motion: createMotion(rng, motion), socket: undefined, failures: 0, reconnectAt: 0 });
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
