/** A figure over repeated rounds. */
export type Summary = { min: number; median: number; max: number; rounds: number[] };

export function percentile(sorted: ArrayLike<number>, p: number): number {
	if (sorted.length === 0) return NaN;
	const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return sorted[i]!;
}

export function sortedCopy(values: number[]): Float64Array {
	return Float64Array.from(values).sort();
}

export function summarize(rounds: number[]): Summary {
	const s = sortedCopy(rounds.filter(v => Number.isFinite(v)));
	if (s.length === 0) return { min: NaN, median: NaN, max: NaN, rounds };
	const mid = s.length >> 1;
	const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
	return { min: s[0]!, median, max: s[s.length - 1]!, rounds };
}

/** Latency distribution of one round. */
export function latencyStats(samples: number[]): { p50: number; p99: number; max: number; n: number } {
	const s = sortedCopy(samples);
	return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : NaN, n: s.length };
}

export function fmt(v: number, digits = 2): string {
	if (!Number.isFinite(v)) return "n/a";
	if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
	if (Math.abs(v) >= 100) return v.toFixed(0);
	if (Math.abs(v) >= 10) return v.toFixed(Math.min(digits, 1));
	return v.toFixed(digits);
}

/** "median [min–max]" */
export function fmtSummary(s: Summary, unit = "", digits = 2): string {
	if (!Number.isFinite(s.median)) return "n/a";
	if (s.rounds.length <= 1) return `${fmt(s.median, digits)}${unit}`;
	return `${fmt(s.median, digits)}${unit} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
}

const mean = (v: readonly number[]) => v.reduce((a, x) => a + x, 0) / v.length;

/** Sums of the products of deviations from the means: Σxy, Σxx, Σyy. */
function deviations(xs: readonly number[], ys: readonly number[]) {
	const [mx, my] = [mean(xs), mean(ys)];
	let [sxy, sxx, syy] = [0, 0, 0];
	xs.forEach((x, i) => {
		sxy += (x - mx) * (ys[i]! - my);
		sxx += (x - mx) ** 2;
		syy += (ys[i]! - my) ** 2;
	});
	return { mx, my, sxy, sxx, syy };
}

/** Least-squares line through the points: what y grows by per unit of x, and y at x = 0. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
	const { mx, my, sxy, sxx } = deviations(xs, ys);
	const slope = sxy / sxx;
	return { slope, intercept: my - slope * mx };
}

/** Pearson correlation of two series. */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
	const { sxy, sxx, syy } = deviations(xs, ys);
	return sxy / Math.sqrt(sxx * syy);
}
