import { describe, expect, it } from "vitest";
import { EARTH_RADIUS_M, type LatLng } from "../../lib/geo.ts";
import type { Fence } from "../../services/alerts/contract.ts";
import type { FenceStateStore, Rule } from "../../services/geo/fences/state.ts";

/** Berlin Mitte, where the fences of the tests are. */
export const MITTE: LatLng = { lat: 52.52, lng: 13.405 };

/** The point `metres` east (negative: west) and `north` metres north of `from`. */
export function offset(from: LatLng, metres: number, north = 0): LatLng {
	const rad = Math.PI / 180;
	return {
		lat: from.lat + north / EARTH_RADIUS_M / rad,
		lng: from.lng + metres / (EARTH_RADIUS_M * Math.cos(from.lat * rad)) / rad,
	};
}

/** A fence with the defaults of a customer's fixed-point vendor_nearby alert, `patch` over them. */
export function fence(patch: Partial<Fence> & Pick<Fence, "id">): Fence {
	return {
		kind: "vendor_nearby",
		userId: "user_a",
		shape: { type: "circle", center: MITTE, radius: 500 },
		roaming: false,
		filter: {},
		on: ["enter"],
		minIntervalS: 60,
		...patch,
	};
}

const RULE: Rule = { on: ["enter", "exit", "dwell"], minIntervalMs: 60_000, dwellMs: 0 };

/** The transition rule, the same on every state store (memory and Redis). */
export function fenceStateSuite(label: string, open: () => FenceStateStore) {
	describe(`fence state (${label})`, () => {
		const ids = (prefix: string) => ({ fence: `${prefix}_${Math.random().toString(36).slice(2, 8)}`, vendor: "ven_state" });

		it("enters on in, keeps its state in the band, exits on out, and says which fences a vendor is inside", async () => {
			const state = open();
			const { fence: f, vendor } = ids("f");
			const sides = ["band", "in", "band", "in", "band", "out", "band", "out"] as const;
			const fired = [];
			for (const [i, side] of sides.entries()) fired.push((await state.step(f, vendor, side, 1_000_000 + i * 61_000, RULE)).fired);
			expect(fired).toEqual([null, "enter", null, null, null, "exit", null, null]);
			await state.step(f, vendor, "in", 2_000_000, RULE);
			expect(await state.insideOf(vendor)).toContain(f);
			await state.forget(f);
			expect(await state.insideOf(vendor)).not.toContain(f);
			await state.close();
		});

		it("fires enter and exit at most once per minimum interval, a dwell once per stay, and ignores an older position", async () => {
			const state = open();
			const { fence: f, vendor } = ids("g");
			const t = 5_000_000;
			const dwell: Rule = { ...RULE, dwellMs: 30_000 };
			const run = async (side: "in" | "out" | "band" | "off", at: number) => (await state.step(f, vendor, side, at, dwell)).fired;
			expect(await run("in", t)).toBe("enter");
			expect(await run("out", t + 10_000)).toBe(null); // within the interval: moves the state, fires nothing
			expect(await run("in", t + 20_000)).toBe(null);
			expect(await run("in", t + 15_000)).toBe(null); // older than the last one seen
			expect(await run("in", t + 45_000)).toBe(null); // inside since t + 20 s: 25 s
			expect(await run("in", t + 50_000)).toBe("dwell"); // 30 s, within the interval: a dwell is no flap
			expect(await run("in", t + 200_000)).toBe(null);
			expect(await run("off", t + 210_000)).toBe(null); // offline: the stay ends silently
			expect(await state.insideOf(vendor)).not.toContain(f);
			expect(await run("in", t + 220_000)).toBe("enter");
			await state.close();
		});

		it("fires only the transitions the fence is on", async () => {
			const state = open();
			const { fence: f, vendor } = ids("h");
			const exitOnly: Rule = { on: ["exit"], minIntervalMs: 0, dwellMs: 0 };
			expect((await state.step(f, vendor, "in", 1, exitOnly)).fired).toBe(null);
			expect((await state.step(f, vendor, "out", 2, exitOnly)).fired).toBe("exit");
			expect(await state.step(f, vendor, "in", 3, exitOnly)).toEqual({ fired: null, inside: true });
			await state.close();
		});
	});
}
