import { describe, expect, it } from "vitest";
import { checkPosition, MAX_FUTURE_SKEW_MS } from "../../../lib/position.ts";

describe("position validation", () => {
	const now = 1_800_000_000_000;
	const maxAge = 60_000;
	it("accepts a full position and defaults ts to now", () => {
		expect(checkPosition({ lat: 52.5, lng: 13.4, acc: 5, hdg: 359.9, spd: 3 }, now, maxAge)).toEqual({
			ok: true,
			position: { lat: 52.5, lng: 13.4, ts: now, acc: 5, hdg: 359.9, spd: 3 },
		});
		expect(checkPosition({ lat: -90, lng: 180, ts: now - 1000 }, now, maxAge)).toMatchObject({ ok: true, position: { ts: now - 1000 } });
	});
	it("refuses non-finite, out-of-range and badly timed input", () => {
		const bad: [object, string][] = [
			[{ lat: NaN, lng: 0 }, "lat"],
			[{ lat: "1", lng: 0 }, "lat"],
			[{ lat: 91, lng: 0 }, "lat"],
			[{ lat: 0, lng: -180.1 }, "lng"],
			[{ lat: 0, lng: Infinity }, "lng"],
			[{ lat: 0, lng: 0, ts: now + MAX_FUTURE_SKEW_MS + 1 }, "ts"],
			[{ lat: 0, lng: 0, ts: now - maxAge - 1 }, "ts"],
			[{ lat: 0, lng: 0, ts: 1.5 }, "ts"],
			[{ lat: 0, lng: 0, acc: -1 }, "acc"],
			[{ lat: 0, lng: 0, hdg: 360 }, "hdg"],
			[{ lat: 0, lng: 0, spd: 1000 }, "spd"],
			[{ lat: 0, lng: 0, spd: "fast" }, "spd"],
		];
		for (const [input, field] of bad) expect(checkPosition(input, now, maxAge), JSON.stringify(input)).toMatchObject({ ok: false, field });
	});
});
