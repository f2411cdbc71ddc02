/**
 * How a simulated vendor moves: waypoints inside a box, walking or driving speeds, stops of a
 * few minutes, now and then offline for a while, GPS fixes jittered within their accuracy.
 * Pure and seedable, so the simulator and its tests share one model (the map page bundles it).
 */
import { distanceBetween, EARTH_RADIUS_M, type BBox, type LatLng } from "../../lib/geo.ts";

/** Berlin Mitte: the simulator's and the map page's default area. */
export const DEFAULT_CITY_BBOX: BBox = [13.37, 52.505, 13.44, 52.535];

/** Uniform in [0, 1). */
export type Rng = () => number;

export type Mode = "walk" | "drive";
export type Phase = "moving" | "stopped" | "offline";

export type Point = LatLng;

export type VendorMotion = Point & {
	mode: Mode;
	phase: Phase;
	target: Point;
	/** Metres per second while moving. */
	speed: number;
	/** Degrees clockwise from north, of the last leg travelled. */
	heading: number;
	/** Seconds left in the current stop or offline spell. */
	remainingS: number;
	/** Driven to one point (`--drive-to`): never offline, and stays once there. */
	hold?: true;
};

/** A GPS fix as the phone would send it. */
export type Fix = Point & { acc: number; spd: number; hdg?: number };

export type MotionOptions = {
	bbox: BBox;
	/** Share of vendors that drive (trucks); the others walk (carts, stalls). */
	driveShare: number;
	walkMps: readonly [number, number];
	driveMps: readonly [number, number];
	/** Farthest next waypoint, metres. */
	walkLegM: number;
	driveLegM: number;
	stopS: readonly [number, number];
	/** Mean number of times per hour a vendor drops offline. */
	offlinePerHour: number;
	offlineS: readonly [number, number];
};

export const DEFAULT_MOTION: Omit<MotionOptions, "bbox"> = {
	driveShare: 0.35,
	walkMps: [0.9, 1.6],
	driveMps: [4, 11],
	walkLegM: 900,
	driveLegM: 3000,
	stopS: [60, 300],
	offlinePerHour: 2,
	offlineS: [20, 120],
};

/** Metres per degree of latitude on the engine's earth (offsets agree with its distances). */
const M_PER_DEG_LAT = (EARTH_RADIUS_M * Math.PI) / 180;

/** mulberry32: small, fast and good enough to make simulations repeatable. */
export function seededRng(seed: number): Rng {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

const between = (rng: Rng, [lo, hi]: readonly [number, number]) => lo + rng() * (hi - lo);

/** Initial bearing from a to b, degrees clockwise from north in [0, 360). */
export function bearingDeg(a: Point, b: Point): number {
	const x = (b.lng - a.lng) * Math.cos(((a.lat + b.lat) / 2) * (Math.PI / 180));
	const y = b.lat - a.lat;
	return ((Math.atan2(x, y) * 180) / Math.PI + 360) % 360;
}

/** The point `metres` away from p towards `bearing`. */
export function offsetPoint(p: Point, bearing: number, metres: number): Point {
	const rad = (bearing * Math.PI) / 180;
	return {
		lat: p.lat + (Math.cos(rad) * metres) / M_PER_DEG_LAT,
		lng: p.lng + (Math.sin(rad) * metres) / (M_PER_DEG_LAT * Math.cos((p.lat * Math.PI) / 180)),
	};
}

function clampToBBox(p: Point, [w, s, e, n]: BBox): Point {
	return { lat: Math.min(n, Math.max(s, p.lat)), lng: Math.min(e, Math.max(w, p.lng)) };
}

function randomPointIn(rng: Rng, [w, s, e, n]: BBox): Point {
	return { lat: s + rng() * (n - s), lng: w + rng() * (e - w) };
}

function nextWaypoint(rng: Rng, from: Point, mode: Mode, opts: MotionOptions): Point {
	const leg = mode === "drive" ? opts.driveLegM : opts.walkLegM;
	// At least a tenth of the longest leg, so a vendor visibly travels between stops.
	return clampToBBox(offsetPoint(from, rng() * 360, leg * (0.1 + 0.9 * rng())), opts.bbox);
}

function speedFor(rng: Rng, mode: Mode, opts: MotionOptions): number {
	return between(rng, mode === "drive" ? opts.driveMps : opts.walkMps);
}

/** A vendor somewhere in the box, in a random phase so a fleet does not move in lockstep. */
export function createMotion(rng: Rng, opts: MotionOptions): VendorMotion {
	const mode: Mode = rng() < opts.driveShare ? "drive" : "walk";
	const start = randomPointIn(rng, opts.bbox);
	const target = nextWaypoint(rng, start, mode, opts);
	const stopped = rng() < 0.3;
	return {
		...start,
		mode,
		phase: stopped ? "stopped" : "moving",
		target,
		speed: speedFor(rng, mode, opts),
		heading: bearingDeg(start, target),
		remainingS: stopped ? between(rng, opts.stopS) * rng() : 0,
	};
}

/** A vendor `fromM` metres away from `point` that drives straight to it at top driving speed and stays there. */
export function driveTo(rng: Rng, point: Point, fromM: number, opts: MotionOptions): VendorMotion {
	const start = offsetPoint(point, rng() * 360, fromM);
	const speed = opts.driveMps[1];
	return { ...start, mode: "drive", phase: "moving", target: point, speed, heading: bearingDeg(start, point), remainingS: 0, hold: true };
}

/** A held vendor's step: straight on to its point at constant speed, then parked there. */
function advanceHeld(m: VendorMotion, dtS: number): VendorMotion {
	if (m.phase === "stopped") return m;
	const left = distanceBetween(m, m.target);
	if (m.speed * dtS >= left) return { ...m, ...m.target, phase: "stopped", remainingS: Number.POSITIVE_INFINITY };
	return { ...m, ...offsetPoint(m, bearingDeg(m, m.target), m.speed * dtS), heading: bearingDeg(m, m.target) };
}

/** The vendor `dtS` seconds later. */
export function advance(m: VendorMotion, dtS: number, rng: Rng, opts: MotionOptions): VendorMotion {
	if (m.hold) return advanceHeld(m, dtS);
	if (m.phase === "offline") {
		const remainingS = m.remainingS - dtS;
		return remainingS > 0 ? { ...m, remainingS } : { ...m, phase: "moving", remainingS: 0, target: nextWaypoint(rng, m, m.mode, opts) };
	}
	// Going offline is a Poisson process: the chance within dt is 1 - e^(-rate·dt).
	if (rng() < 1 - Math.exp((-opts.offlinePerHour / 3600) * dtS)) {
		return { ...m, phase: "offline", remainingS: between(rng, opts.offlineS) };
	}
	if (m.phase === "stopped") {
		const remainingS = m.remainingS - dtS;
		if (remainingS > 0) return { ...m, remainingS };
		const target = nextWaypoint(rng, m, m.mode, opts);
		return { ...m, phase: "moving", remainingS: 0, target, speed: speedFor(rng, m.mode, opts), heading: bearingDeg(m, target) };
	}
	// Speed wanders a little around the leg's cruising speed, within the mode's range.
	const range = m.mode === "drive" ? opts.driveMps : opts.walkMps;
	const speed = Math.min(range[1], Math.max(range[0], m.speed * (0.9 + 0.2 * rng())));
	const left = distanceBetween(m, m.target);
	const step = speed * dtS;
	if (step >= left) {
		return { ...m, ...m.target, speed, phase: "stopped", remainingS: between(rng, opts.stopS) };
	}
	const heading = bearingDeg(m, m.target);
	return { ...m, ...clampToBBox(offsetPoint(m, heading, step), opts.bbox), speed, heading };
}

/** What the phone reports: a fix within `acc` metres of the true spot; none while offline. */
export function fix(m: VendorMotion, rng: Rng): Fix | null {
	if (m.phase === "offline") return null;
	const acc = Math.round(m.mode === "drive" ? 5 + rng() * 10 : 4 + rng() * 8);
	// sqrt spreads points evenly over the disc; 0.95 keeps them strictly inside it.
	const jittered = offsetPoint(m, rng() * 360, acc * 0.95 * Math.sqrt(rng()));
	const round = (v: number) => Math.round(v * 1e6) / 1e6;
	const base = { lat: round(jittered.lat), lng: round(jittered.lng), acc };
	if (m.phase === "stopped") return { ...base, spd: 0 };
	return { ...base, spd: Math.round(m.speed * 10) / 10, hdg: Math.round(m.heading) % 360 };
}
