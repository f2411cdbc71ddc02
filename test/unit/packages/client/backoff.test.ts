import { describe, expect, it } from "vitest";
import { createBackoff } from "../../../../packages/client/src/live/backoff.ts";

describe("jittered exponential backoff", () => {
	it("doubles the base delay per attempt up to the cap, each delay between half and all of its base", () => {
		const low = createBackoff({ initialMs: 500, maxMs: 8_000, random: () => 0 });
		const high = createBackoff({ initialMs: 500, maxMs: 8_000, random: () => 0.999_999 });
		const bases = [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000];
		for (const base of bases) {
			expect(low.next()).toBe(base / 2);
			expect(high.next()).toBe(base);
		}
		expect(low.attempts).toBe(bases.length);
	});

	it("spreads clients that retry at the same moment", () => {
		const delays = Array.from({ length: 200 }, () => createBackoff({ initialMs: 1_000 }).next());
		expect(Math.min(...delays)).toBeGreaterThanOrEqual(500);
		expect(Math.max(...delays)).toBeLessThanOrEqual(1_000);
		expect(new Set(delays).size).toBeGreaterThan(50);
	});

	it("starts from the first delay again after a reset", () => {
		const backoff = createBackoff({ initialMs: 100, random: () => 0 });
		for (let i = 0; i < 5; i++) backoff.next();
		backoff.reset();
		expect(backoff.attempts).toBe(0);
		expect(backoff.next()).toBe(50);
	});
});
