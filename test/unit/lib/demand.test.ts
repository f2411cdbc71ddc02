import { describe, expect, it } from "vitest";
import { demandLevels, demandScore, FULL_RATE_WATCHERS, interestChanged, suggestedHz, visibleCount } from "../../../lib/demand.ts";

describe("demand rules", () => {
	it("keeps counts at the watch resolution and two resolutions coarser", () => {
		expect(demandLevels(8)).toEqual({ fine: 8, coarse: 6 });
		expect(demandLevels(1)).toEqual({ fine: 1, coarse: 0 });
	});

	it("suggests the floor to a vendor nobody watches, 1 Hz for one watcher, the maximum from FULL_RATE_WATCHERS", () => {
		expect(suggestedHz(0, 0.1, 5)).toBe(0.1);
		expect(suggestedHz(1, 0.1, 5)).toBe(1);
		expect(suggestedHz(FULL_RATE_WATCHERS, 0.1, 5)).toBe(5);
		expect(suggestedHz(1_000, 0.1, 5)).toBe(5);
		const middle = suggestedHz(5, 0.1, 5);
		expect(middle).toBeGreaterThan(1);
		expect(middle).toBeLessThan(5);
	});

	it("never suggests more than the maximum, even when it is below 1 Hz", () => {
		expect(suggestedHz(1, 0.05, 0.5)).toBe(0.5);
		expect(suggestedHz(50, 0.05, 0.5)).toBe(0.5);
	});

	it("tells a vendor the first count, every new rate, and counts that moved by a quarter (at least 2)", () => {
		expect(interestChanged(null, { watchers: 0, suggestedHz: 0.1 })).toBe(true);
		expect(interestChanged({ watchers: 0, suggestedHz: 0.1 }, { watchers: 1, suggestedHz: 1 })).toBe(true);
		expect(interestChanged({ watchers: 20, suggestedHz: 5 }, { watchers: 21, suggestedHz: 5 })).toBe(false);
		expect(interestChanged({ watchers: 20, suggestedHz: 5 }, { watchers: 25, suggestedHz: 5 })).toBe(true);
		expect(interestChanged({ watchers: 40, suggestedHz: 5 }, { watchers: 31, suggestedHz: 5 })).toBe(false);
		expect(interestChanged({ watchers: 40, suggestedHz: 5 }, { watchers: 30, suggestedHz: 5 })).toBe(true);
	});

	it("hides counts below the privacy threshold", () => {
		expect(visibleCount(2, 3)).toBe(0);
		expect(visibleCount(3, 3)).toBe(3);
	});

	it("ranks watchers per vendor, the asking vendor counting as one more", () => {
		expect(demandScore(120, 0)).toBe(120);
		expect(demandScore(120, 3)).toBe(30);
	});
});
