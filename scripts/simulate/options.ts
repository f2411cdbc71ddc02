import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../../config/index.ts";
import { parseBBox as parseBox, type BBox, type LatLng } from "../../lib/geo.ts";
import { DEFAULT_CITY_BBOX, DEFAULT_MOTION } from "./motion.ts";

/** The simulator's command line: options, their checks, and the engine's config for the defaults. */

export const USAGE = `usage: npm run simulate -- [--vendors 50] [--bbox w,s,e,n] [--hz 1] [--duration <seconds>]
       [--url http://127.0.0.1:3000] [--live-url ws://127.0.0.1:3001/live] [--token-secret <secret>]
       [--prefix sim] [--seed 1] [--offline-per-hour 2] [--wait 30] [--token-ttl 600]
       [--drive-to lat,lng [--drive-from 1000]]   the first vendor drives from <drive-from> m away straight to lat,lng and stays
       [--ignore-interest]   send at --hz even where nobody watches (the engine's interest frames are followed by default)
       [--report-every 60]   seconds between JSON lines of positions sent per vendor per minute (0: only at exit)`;

export type Options = {
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
	/** Lifetime of the vendor sockets' tokens; each is refreshed over its socket halfway through. */
	tokenTtlS: number;
	/** The first vendor drives to this point (to try alerts: a favourite coming near). */
	driveTo: { point: LatLng; fromM: number } | undefined;
	/** Send at `hz` whatever the engine's interest frames suggest. */
	ignoreInterest: boolean;
	/** Seconds between two positions reports (0: only the one at exit). */
	reportEveryS: number;
};

export function fail(message: string): never {
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
	const parts = parseBox(raw);
	// West < east: the motion model does not cross the antimeridian; the map page shows no farther than ±85°.
	if (!parts || parts[0] >= parts[2] || parts[1] < -85 || parts[3] > 85) {
		fail(`--bbox must be west,south,east,north with west < east and south < north, got "${raw}"\n${USAGE}`);
	}
	return parts;
}

function parseDriveTo(raw: string | undefined, fromRaw: string): Options["driveTo"] {
	if (raw === undefined) return undefined;
	const [lat, lng, extra] = raw.split(",").map(Number);
	if (extra !== undefined || !Number.isFinite(lat) || !Number.isFinite(lng) || Math.abs(lat!) > 85 || Math.abs(lng!) > 180) {
		fail(`--drive-to must be lat,lng, got "${raw}"\n${USAGE}`);
	}
	return { point: { lat: lat!, lng: lng! }, fromM: number(fromRaw, "drive-from", 10, 20_000) };
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

export function readOptions(): Options {
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
			"token-ttl": { type: "string", default: "600" },
			"drive-to": { type: "string" },
			"drive-from": { type: "string", default: "1000" },
			"ignore-interest": { type: "boolean", default: false },
			"report-every": { type: "string", default: "60" },
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
			config ??= loadConfig();
			return config;
		} catch (err) {
			fail(err instanceof ConfigError ? err.message : String(err));
		}
	};
	const url = (values.url ?? `http://127.0.0.1:${engineConfig().port}`).replace(/\/+$/, "");
	if (!/^https?:\/\/[^/]+/.test(url)) fail(`--url must be an http(s) URL, got "${url}"`);
	const liveUrl = values["live-url"] ?? `${url.replace(/^http/, "ws").replace(/:\d+$/, "")}:${engineConfig().livePort}/live`;
	if (!/^wss?:\/\/[^/]+/.test(liveUrl)) fail(`--live-url must be a ws(s) URL, got "${liveUrl}"`);
	const secret = values["token-secret"] ?? engineConfig().devSecret;
	if (!secret)
		fail("No dev token secret: pass --token-secret or set AUTH_DEV_SECRET (the engine's), or run where the engine keeps its DATA_DIR");
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
		tokenTtlS: number(values["token-ttl"], "token-ttl", 2, 7 * 24 * 3600, true),
		driveTo: parseDriveTo(values["drive-to"], values["drive-from"]),
		ignoreInterest: values["ignore-interest"],
		reportEveryS: number(values["report-every"], "report-every", 0, 24 * 3600, true),
	};
}
