import { mintDevToken } from "../../lib/auth.ts";
import { seededRng, type Rng } from "./motion.ts";
import type { Options } from "./options.ts";

/** Onboarding the simulated fleet through the REST API, the way a vendor's app does it. */

/** A simulated vendor's id and its owner (`user_<prefix>_<index>`), who signs its socket in. */
export type Identity = { id: string; owner: string };

const ONBOARD_CONCURRENCY = 8;
/** Onboarding takes seconds; the sockets mint their own tokens (and refresh them) later. */
const ONBOARDING_TOKEN_TTL_S = 300;
const CATEGORIES = ["tacos", "coffee", "burgers", "ice cream", "crepes", "falafel", "pizza", "vegan", "bakery", "bbq", "fruit", "flowers"];
const ADJECTIVES = ["Sunny", "Rolling", "Little", "Golden", "Urban", "Happy", "Midnight", "Green", "Spicy", "Corner", "Lucky", "Wild"];
const KINDS = ["Truck", "Cart", "Stand", "Bike", "Van", "Kitchen"];

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
		const hint = detail.startsWith("SUBSCRIPTION_REQUIRED")
			? "; the engine runs with REQUIRE_SUBSCRIPTION=true and simulated vendors have no subscription"
			: "";
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
async function onboard(opts: Options, index: number): Promise<Identity> {
	const owner = `user_${opts.prefix}_${index}`;
	const token = await mintDevToken(opts.secret, owner, ONBOARDING_TOKEN_TTL_S);
	const mine = await rest<VendorBody[] | { rows: VendorBody[] }>(opts, token, "GET", "/api/vendors?owner=me");
	let vendor = (Array.isArray(mine) ? mine : mine.rows)[0];
	vendor ??= await rest<VendorBody>(opts, token, "POST", "/api/vendors", profileOf(index, seededRng(opts.seed * 100_003 + index)));
	if (vendor.status !== "active")
		await rest(opts, token, "POST", `/api/vendors/${encodeURIComponent(vendor.id)}/status`, { status: "active" });
	return { id: vendor.id, owner };
}

/** An engine that is still starting refuses connections or answers 404/503 for a moment: wait for it. */
export async function waitForEngine(opts: Options, stopping: () => boolean): Promise<void> {
	const deadline = Date.now() + opts.waitS * 1000;
	let announced = false;
	for (;;) {
		const status = await fetch(`${opts.url}/api/vendors?pageSize=1`, { signal: AbortSignal.timeout(5_000) }).then(
			r => r.status,
			() => 0
		);
		// Past the deadline, onboarding reports what the engine answers (or that nothing listens).
		if (status === 200 || Date.now() > deadline || stopping()) return;
		if (!announced)
			process.stdout.write(
				`waiting up to ${opts.waitS} s for the engine at ${opts.url} (${status ? `it answers ${status}` : "not reachable yet"})…\n`
			);
		announced = true;
		await new Promise(r => setTimeout(r, 250));
	}
}

export async function onboardAll(opts: Options, stopping: () => boolean): Promise<Identity[]> {
	const out = new Array<Identity>(opts.vendors);
	let next = 0;
	let done = 0;
	const worker = async () => {
		while (next < opts.vendors && !stopping()) {
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
