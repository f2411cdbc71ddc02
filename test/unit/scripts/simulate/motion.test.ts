import { describe, expect, it } from "vitest";
import {
	advance,
	bearingDeg,
	createMotion,
	DEFAULT_CITY_BBOX,
	DEFAULT_MOTION,
	driveTo,
	fix,
	offsetPoint,
	seededRng,
	type MotionOptions,
	type VendorMotion,
} from "../../../../scripts/simulate/motion.ts";
import { distanceBetween as distanceM, inBBox } from "../../../../lib/geo.ts";

const opts: MotionOptions = { ...DEFAULT_MOTION, bbox: DEFAULT_CITY_BBOX };

/** One vendor's states over `seconds`, one per `dt`. */
function run(seed: number, seconds: number, dt = 1, options = opts): VendorMotion[] {
	const rng = seededRng(seed);
	let m = createMotion(rng, options);
	const states = [m];
	for (let t = 0; t < seconds; t += dt) {
		m = advance(m, dt, rng, options);
		states.push(m);
	}
	return states;
}

describe("vendor motion model", () => {
	it("measures distance and bearing consistently with offsetPoint", () => {
		const origin = { lat: 52.52, lng: 13.4 };
		for (const bearing of [0, 45, 90, 180, 270, 333]) {
			const p = offsetPoint(origin, bearing, 500);
			expect(distanceM(origin, p)).toBeCloseTo(500, 0);
			expect(bearingDeg(origin, p)).toBeCloseTo(bearing, 0);
		}
	});

	it("is repeatable for a seed", () => {
		expect(run(7, 600)).toEqual(run(7, 600));
		expect(run(7, 600)).not.toEqual(run(8, 600));
	});

	it("keeps every vendor inside the box", () => {
		for (let seed = 1; seed <= 20; seed++) {
			for (const m of run(seed, 3600, 2)) expect(inBBox(opts.bbox, m.lat, m.lng)).toBe(true);
		}
	});

	it("moves at walking or driving speed and heads where it goes", () => {
		let checkedLegs = 0;
		for (let seed = 1; seed <= 20; seed++) {
			const states = run(seed, 1800);
			const range = states[0]!.mode === "drive" ? opts.driveMps : opts.walkMps;
			for (let i = 1; i < states.length; i++) {
				const [a, b] = [states[i - 1]!, states[i]!];
				if (a.phase !== "moving" || b.phase !== "moving") continue;
				const metres = distanceM(a, b);
				expect(metres).toBeGreaterThanOrEqual(range[0] * 0.99);
				expect(metres).toBeLessThanOrEqual(range[1] * 1.01);
				const diff = Math.abs(((bearingDeg(a, b) - b.heading + 540) % 360) - 180);
				expect(diff).toBeLessThan(1);
				checkedLegs++;
			}
		}
		expect(checkedLegs).toBeGreaterThan(1000);
		const modes = new Set(Array.from({ length: 40 }, (_, seed) => run(seed, 0)[0]!.mode));
		expect(modes).toEqual(new Set(["walk", "drive"]));
	});

	it("stops for a few minutes between legs", () => {
		const stops: number[] = [];
		const online = { ...opts, offlinePerHour: 0 };
		for (let seed = 1; seed <= 10; seed++) {
			const states = run(seed, 4 * 3600, 1, online);
			let run_ = 0;
			for (let i = 1; i < states.length; i++) {
				if (states[i]!.phase === "stopped") run_++;
				else if (run_ > 0) {
					// A stop that started within the run (not the random initial one).
					if (states[i - run_ - 1]?.phase === "moving") stops.push(run_);
					run_ = 0;
				}
			}
		}
		expect(stops.length).toBeGreaterThan(20);
		for (const s of stops) {
			expect(s).toBeGreaterThanOrEqual(opts.stopS[0] - 1);
			expect(s).toBeLessThanOrEqual(opts.stopS[1] + 1);
		}
		// Stopped vendors stay put.
		const states = run(3, 3600);
		for (let i = 1; i < states.length; i++) {
			if (states[i - 1]!.phase === "stopped" && states[i]!.phase === "stopped") expect(distanceM(states[i - 1]!, states[i]!)).toBe(0);
		}
	});

	it("drops offline now and then and comes back", () => {
		const frequent = { ...opts, offlinePerHour: 6 };
		let spells = 0;
		for (let seed = 1; seed <= 10; seed++) {
			const states = run(seed, 3 * 3600, 1, frequent);
			for (let i = 1; i < states.length; i++) {
				if (states[i]!.phase === "offline" && states[i - 1]!.phase !== "offline") {
					spells++;
					let length = 0;
					while (states[i + length]?.phase === "offline") length++;
					if (i + length < states.length) {
						expect(length).toBeGreaterThanOrEqual(frequent.offlineS[0] - 1);
						expect(length).toBeLessThanOrEqual(frequent.offlineS[1] + 1);
						expect(states[i + length]!.phase).toBe("moving");
					}
				}
			}
		}
		// 10 vendors × 3 h × 6/h ≈ 180 spells; a wide band still catches a broken rate.
		expect(spells).toBeGreaterThan(100);
		expect(spells).toBeLessThan(260);
		expect(run(1, 3600, 1, { ...opts, offlinePerHour: 0 }).some(m => m.phase === "offline")).toBe(false);
	});

	it("reports fixes within their accuracy, with heading and speed while moving", () => {
		const rng = seededRng(42);
		let sawMoving = false;
		let sawStopped = false;
		for (const m of run(5, 3600)) {
			const f = fix(m, rng);
			if (m.phase === "offline") {
				expect(f).toBeNull();
				continue;
			}
			expect(f).not.toBeNull();
			expect(f!.acc).toBeGreaterThan(0);
			expect(distanceM(m, f!)).toBeLessThanOrEqual(f!.acc);
			if (m.phase === "moving") {
				sawMoving = true;
				expect(f!.spd).toBeGreaterThan(0);
				expect(f!.hdg).toBeGreaterThanOrEqual(0);
				expect(f!.hdg).toBeLessThan(360);
			} else {
				sawStopped = true;
				expect(f!.spd).toBe(0);
				expect(f!.hdg).toBeUndefined();
			}
		}
		expect(sawMoving && sawStopped).toBe(true);
	});
});

describe("driveTo (--drive-to)", () => {
	it("starts the given distance away, closes in every step, then stays at the point and never goes offline", () => {
		const rng = seededRng(7);
		const point = { lat: 52.52, lng: 13.405 };
		const noisy = { ...opts, offlinePerHour: 3600 };
		let m = driveTo(rng, point, 800, noisy);
		expect(distanceM(m, point)).toBeCloseTo(800, 0);
		let last = distanceM(m, point);
		for (let s = 0; s < 120; s++) {
			m = advance(m, 1, rng, noisy);
			expect(m.phase).not.toBe("offline");
			const d = distanceM(m, point);
			expect(d).toBeLessThanOrEqual(last + 1e-6);
			last = d;
		}
		expect(m.phase).toBe("stopped");
		expect(distanceM(m, point)).toBeLessThan(1);
		expect(fix(m, rng)).not.toBeNull();
	});
});
