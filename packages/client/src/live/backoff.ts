/**
 * Jittered exponential backoff ("equal jitter"): attempt n waits between half and all of
 * min(maxMs, initialMs · factorⁿ), so the clients of a node that went away come back spread out,
 * not in one wave. A dozen lines of our own: the SDK has no runtime dependency for it.
 */
export type BackoffOptions = {
	/** The base delay of the first attempt (default 500 ms). */
	initialMs?: number;
	/** The largest base delay (default 30 s). */
	maxMs?: number;
	/** Growth per attempt (default 2). */
	factor?: number;
	/** Uniform in [0, 1) (default Math.random). */
	random?: () => number;
};

export type Backoff = {
	/** The delay before the next attempt; each call counts one attempt. */
	next(): number;
	/** Back to the first delay (the connection worked, or the network came back). */
	reset(): void;
	readonly attempts: number;
};

export function createBackoff({ initialMs = 500, maxMs = 30_000, factor = 2, random = Math.random }: BackoffOptions = {}): Backoff {
	let attempts = 0;
	return {
		next() {
			const base = Math.min(maxMs, initialMs * factor ** attempts);
			attempts++;
			return Math.round(base / 2 + (random() * base) / 2);
		},
		reset() {
			attempts = 0;
		},
		get attempts() {
			return attempts;
		},
	};
}
