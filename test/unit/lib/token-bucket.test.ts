import { describe, expect, it } from "vitest";
import { fullBucket, take } from "../../../lib/token-bucket.ts";

describe("token bucket", () => {
	it("allows a burst, then refills at the rate, never above the burst", () => {
		const b = fullBucket(3, 0);
		expect([take(b, 1, 0, 2, 3), take(b, 1, 0, 2, 3), take(b, 1, 0, 2, 3), take(b, 1, 0, 2, 3)]).toEqual([true, true, true, false]);
		expect(take(b, 1, 499, 2, 3)).toBe(false);
		expect(take(b, 1, 500, 2, 3)).toBe(true);
		expect(take(b, 3, 60_000, 2, 3)).toBe(true);
		expect(take(b, 1, 60_000, 2, 3)).toBe(false);
	});

	it("charges by cost and takes nothing when it cannot pay", () => {
		const b = fullBucket(10, 0);
		expect(take(b, 21, 0, 5, 10)).toBe(false);
		expect(b.tokens).toBe(10);
		expect(take(b, 7, 0, 5, 10)).toBe(true);
		expect(b.tokens).toBe(3);
	});
});
