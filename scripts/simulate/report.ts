/**
 * Positions sent per vendor per minute, split by what each vendor's latest interest frame said:
 * watched (someone watches around it), unwatched (nobody), unknown (no frame on its socket yet).
 * A count under the engine's privacy threshold comes as 0 watchers, so the suggested rate tells:
 * from one watcher on the engine asks for at least 1 Hz (lib/demand.ts), nobody gets the floor (0.1 Hz).
 * The simulator samples its publishers every second and prints the figures as one JSON line.
 */

/** What the ledger reads of a publisher (the SDK's VendorPublisher). */
export type Sampled = {
	readonly stats: { readonly sent: number };
	readonly watchers: number | undefined;
	readonly suggestedHz: number | undefined;
};

export const BUCKETS = ["watched", "unwatched", "unknown"] as const;
export type Bucket = (typeof BUCKETS)[number];

export type BucketFigures = { sent: number; vendorMinutes: number; perVendorPerMin: number };
export type PositionsReport = {
	report: "positions";
	/** Since the simulator's vendors first went online. */
	elapsedS: number;
	followInterest: boolean;
	vendors: number;
	sent: number;
	perVendorPerMin: number;
} & Partial<Record<Bucket, BucketFigures>>;

/** The rate the engine asks of a vendor with at least one watcher, at the least (lib/demand.ts suggestedHz). */
const WATCHED_HZ = 1;

export const bucketOf = ({ watchers, suggestedHz }: Sampled): Bucket =>
	watchers === undefined || suggestedHz === undefined ? "unknown" : watchers > 0 || suggestedHz >= WATCHED_HZ ? "watched" : "unwatched";

const perMinute = (sent: number, vendorMinutes: number) => (vendorMinutes > 0 ? Math.round((sent / vendorMinutes) * 100) / 100 : 0);

export class SentLedger {
	readonly #seen = new WeakMap<Sampled, number>();
	readonly #totals = new Map<Bucket, { sent: number; vendorMs: number }>(BUCKETS.map(b => [b, { sent: 0, vendorMs: 0 }]));
	#startedAt: number | undefined;
	#lastSampleAt: number | undefined;

	/** Adds what each online publisher sent since the last sample, and the time since, to its bucket now. */
	sample(publishers: Iterable<Sampled>, now = Date.now()): void {
		this.#startedAt ??= now;
		const elapsedMs = now - (this.#lastSampleAt ?? now);
		this.#lastSampleAt = now;
		for (const p of publishers) {
			const total = this.#totals.get(bucketOf(p))!;
			total.sent += this.#unseen(p);
			total.vendorMs += elapsedMs;
		}
	}

	/** A publisher about to close: what it sent since the last sample still counts (its time is in the next sample no more). */
	settle(p: Sampled): void {
		this.#totals.get(bucketOf(p))!.sent += this.#unseen(p);
	}

	report(vendors: number, followInterest: boolean, now = Date.now()): PositionsReport {
		let sent = 0;
		let vendorMs = 0;
		const buckets: Partial<Record<Bucket, BucketFigures>> = {};
		for (const [bucket, t] of this.#totals) {
			sent += t.sent;
			vendorMs += t.vendorMs;
			if (t.vendorMs === 0 && t.sent === 0) continue;
			const vendorMinutes = t.vendorMs / 60_000;
			buckets[bucket] = {
				sent: t.sent,
				vendorMinutes: Math.round(vendorMinutes * 100) / 100,
				perVendorPerMin: perMinute(t.sent, vendorMinutes),
			};
		}
		const elapsedS = this.#startedAt === undefined ? 0 : Math.round((now - this.#startedAt) / 1000);
		return {
			report: "positions",
			elapsedS,
			followInterest,
			vendors,
			sent,
			perVendorPerMin: perMinute(sent, vendorMs / 60_000),
			...buckets,
		};
	}

	#unseen(p: Sampled): number {
		const delta = p.stats.sent - (this.#seen.get(p) ?? 0);
		this.#seen.set(p, p.stats.sent);
		return delta;
	}
}

/** The positions reports in a simulator's output, oldest first (for the bench and tests that run it). */
export function positionsReports(output: string): PositionsReport[] {
	return output
		.split("\n")
		.filter(line => line.startsWith('{"report":"positions"'))
		.map(line => JSON.parse(line) as PositionsReport);
}
