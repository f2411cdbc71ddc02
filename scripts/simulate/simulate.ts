/**
 * Vendor simulator: onboards N vendors through the REST API, opens one vendor socket each and
 * moves them through a city (motion.ts). The sockets are the SDK's (@venta/client connectVendor):
 * each signs in with its first frame (no token in the URL), refreshes its token over the socket
 * before it expires, reconnects with backoff, and sends at most `--hz` positions a second, as an
 * app with short-lived session tokens does — slower where nobody watches, as the engine's interest
 * frames suggest (unless `--ignore-interest`); a JSON line reports positions sent per vendor per
 * minute, watched and unwatched. Ctrl-C closes every socket, which takes the vendors offline.
 * Works against any running engine (`--url`, `--live-url`).
 */
import { connectVendor, type VendorPublisher } from "@venta/client";
import { mintDevToken } from "../../lib/auth.ts";
import {
	advance,
	createMotion,
	DEFAULT_MOTION,
	driveTo,
	fix,
	seededRng,
	type MotionOptions,
	type Rng,
	type VendorMotion,
} from "./motion.ts";
import { onboardAll, waitForEngine, type Identity } from "./onboarding.ts";
import { fail, readOptions, type Options } from "./options.ts";
import { SentLedger } from "./report.ts";

/** A simulated vendor: its REST identity, its motion and, while it is online, its publisher. */
type SimVendor = { index: number; id: string; owner: string; motion: VendorMotion; publisher: VendorPublisher | undefined };

const LOG_EVERY_S = 5;

/** Counters behind the progress line (`sentBefore`: positions of publishers closed already). */
const stats = { sentBefore: 0, sentAtLastReport: 0, errors: new Map<string, number>(), lastError: "" };
/** Positions sent per vendor per minute, by what each vendor's latest interest frame said. */
const ledger = new SentLedger();

function countError(code: string, message: string): void {
	stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);
	stats.lastError = `${code}: ${message}`.slice(0, 120);
}

function connect(opts: Options, v: SimVendor): VendorPublisher {
	const publisher = connectVendor({
		url: opts.liveUrl,
		vendor: v.id,
		maxHz: opts.hz,
		followInterest: !opts.ignoreInterest,
		getToken: () => mintDevToken(opts.secret, v.owner, opts.tokenTtlS),
	});
	publisher.live.on("error", frame => countError(frame.code, frame.message));
	publisher.live.on("state", change => {
		if (change.code !== undefined && !stopping) countError(`CLOSED_${change.code}`, change.reason || `socket of ${v.id} closed`);
	});
	return publisher;
}

function goOffline(v: SimVendor): Promise<void> {
	const publisher = v.publisher;
	if (!publisher) return Promise.resolve();
	v.publisher = undefined;
	stats.sentBefore += publisher.stats.sent;
	ledger.settle(publisher);
	return publisher.close();
}

/** One step of one vendor: move it, take it off/online, publish its fix. */
function tick(opts: Options, motion: MotionOptions, rng: Rng, v: SimVendor, dtS: number): void {
	v.motion = advance(v.motion, dtS, rng, motion);
	const reading = fix(v.motion, rng);
	if (!reading) return void goOffline(v);
	v.publisher ??= connect(opts, v);
	v.publisher.publish(reading);
}

const sentTotal = (vendors: SimVendor[]) => vendors.reduce((sum, v) => sum + (v.publisher?.stats.sent ?? 0), stats.sentBefore);

function progressLine(vendors: SimVendor[]): string {
	const errors = [...stats.errors.values()].reduce((a, b) => a + b, 0);
	const byCode = [...stats.errors].map(([code, n]) => `${code} ${n}`).join(", ");
	const connected = vendors.filter(v => v.publisher?.live.state === "open").length;
	const sent = sentTotal(vendors);
	return `vendors connected ${connected}/${vendors.length} · positions/s ${sent - stats.sentAtLastReport} · sent ${sent} · errors ${errors}${byCode ? ` (${byCode})` : ""}`;
}

const onlinePublishers = (vendors: SimVendor[]) => vendors.flatMap(v => (v.publisher ? [v.publisher] : []));

function positionsReport(opts: Options, vendors: SimVendor[]): string {
	return JSON.stringify(ledger.report(vendors.length, !opts.ignoreInterest));
}

/**
 * Every second: the progress line (a terminal gets it rewritten, a log every few seconds) and a
 * sample of what each vendor sent; every `--report-every` seconds the positions report.
 */
function startReporter(opts: Options, vendors: SimVendor[]): NodeJS.Timeout {
	const tty = process.stdout.isTTY;
	let seconds = 0;
	return setInterval(() => {
		const line = progressLine(vendors);
		stats.sentAtLastReport = sentTotal(vendors);
		ledger.sample(onlinePublishers(vendors));
		seconds++;
		if (opts.reportEveryS > 0 && seconds % opts.reportEveryS === 0)
			process.stdout.write(`${tty ? "\r\x1b[K" : ""}${positionsReport(opts, vendors)}\n`);
		if (tty) process.stdout.write(`\r\x1b[K${line}`);
		else if ((seconds - 1) % LOG_EVERY_S === 0) process.stdout.write(`${line}\n`);
	}, 1000);
}

let stopping = false;

async function main(): Promise<void> {
	const opts = readOptions();
	const motion: MotionOptions = { ...DEFAULT_MOTION, bbox: opts.bbox, offlinePerHour: opts.offlinePerHour };
	const rng = seededRng(opts.seed);
	const tty = process.stdout.isTTY;
	process.stdout.write(
		`simulating ${opts.vendors} vendors in ${opts.bbox.join(",")} at ${opts.hz} Hz${opts.ignoreInterest ? " (ignoring interest)" : ""} against ${opts.url} and ${opts.liveUrl}\n`
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
		const open = vendors.filter(v => v.publisher?.live.state === "open").length;
		const line = progressLine(vendors);
		const sent = sentTotal(vendors);
		ledger.sample(onlinePublishers(vendors));
		await Promise.race([Promise.all(vendors.map(goOffline)), new Promise(r => setTimeout(r, 5000))]);
		process.stdout.write(
			`${tty ? "\r\x1b[K" : ""}${line}\n${positionsReport(opts, vendors)}\nstopped (${why}): ${open} vendor sockets closed, ${sent} positions sent\n`
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
		vendors.push({ index, id, owner, motion: createMotion(rng, motion), publisher: undefined });
	}
	const driven = vendors[0];
	if (opts.driveTo && driven) {
		const { point, fromM } = opts.driveTo;
		driven.motion = driveTo(rng, point, fromM, motion);
		const arriveS = Math.round(fromM / driven.motion.speed);
		process.stdout.write(`vendor ${driven.id} drives to ${point.lat},${point.lng} from ${fromM} m away (there in ~${arriveS} s)\n`);
	}

	// Each vendor sends on its own phase of the period, so load is spread over the second.
	const periodMs = 1000 / opts.hz;
	const sliceMs = Math.max(10, Math.min(100, periodMs));
	const slices = Math.max(1, Math.round(periodMs / sliceMs));
	let slice = 0;
	ledger.sample([]);
	ticker = setInterval(() => {
		for (let i = slice; i < vendors.length; i += slices) tick(opts, motion, rng, vendors[i]!, periodMs / 1000);
		slice = (slice + 1) % slices;
	}, periodMs / slices);

	reporter = startReporter(opts, vendors);

	if (opts.durationS !== undefined) setTimeout(() => void stop(`duration ${opts.durationS}s`), opts.durationS * 1000).unref();
	return finished;
}

await main();
process.exit(0);
