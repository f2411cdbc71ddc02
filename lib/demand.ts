/**
 * Demand signals: how many customers watch an area, and what that means for a vendor (the rate
 * its phone is asked to send, what it may see). One definition of each rule, for every layer.
 */

/** The two levels watcher counts are kept at: the watch resolution (H3_RES) and a neighbourhood two resolutions coarser. */
export function demandLevels(h3Res: number): { fine: number; coarse: number } {
	return { fine: h3Res, coarse: Math.max(0, h3Res - 2) };
}

/** Watchers from which a vendor is asked for the full POSITION_MAX_HZ. */
export const FULL_RATE_WATCHERS = 10;
/** At least this long between two interest frames to one vendor socket. */
export const INTEREST_MIN_INTERVAL_MS = 3_000;

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * The rate suggested to a vendor with `watchers` customers around it: `floorHz` when nobody
 * watches; from one watcher on at least 1 Hz (or `maxHz` if lower), rising linearly to `maxHz`
 * at FULL_RATE_WATCHERS.
 */
export function suggestedHz(watchers: number, floorHz: number, maxHz: number): number {
	if (watchers <= 0) return floorHz;
	const base = Math.min(1, maxHz);
	const share = Math.min(1, (watchers - 1) / (FULL_RATE_WATCHERS - 1));
	return round2(Math.max(floorHz, base + (maxHz - base) * share));
}

/** What one interest frame told a vendor. */
export type Interest = { watchers: number; suggestedHz: number };

/**
 * Whether `next` is worth an interest frame after `sent`: the first one, another suggested
 * rate, or a count that changed by a quarter (and by at least 2).
 */
export function interestChanged(sent: Interest | null, next: Interest): boolean {
	if (!sent) return true;
	if (sent.suggestedHz !== next.suggestedHz) return true;
	const delta = Math.abs(next.watchers - sent.watchers);
	return delta >= 2 && delta >= sent.watchers / 4;
}

/** What a vendor may see of a count: below the privacy threshold (DEMAND_MIN_COUNT) it is 0. */
export const visibleCount = (watchers: number, minCount: number): number => (watchers >= minCount ? watchers : 0);

/** A cell as a place to go: its watchers per online vendor of the vendor's kind there, the vendor itself counting as one more. */
export const demandScore = (watchers: number, vendors: number): number => watchers / (vendors + 1);
