/** A vendor's position as it is stored and streamed. */
export type Position = {
	lat: number;
	lng: number;
	/** Epoch milliseconds the position was taken (client clock, checked against ours). */
	ts: number;
	/** Accuracy in metres. */
	acc?: number;
	/** Heading in degrees from north, [0, 360). */
	hdg?: number;
	/** Speed in m/s. */
	spd?: number;
};

export type PositionInput = { lat?: unknown; lng?: unknown; ts?: unknown; acc?: unknown; hdg?: unknown; spd?: unknown };

/** How far a client clock may run ahead of ours. */
export const MAX_FUTURE_SKEW_MS = 5_000;
export const MAX_ACCURACY_M = 10_000;
/** 150 m/s = 540 km/h: anything faster is a broken sensor, not a vendor. */
export const MAX_SPEED_MS = 150;

/** Position as JSON Schema: the properties of a stored and streamed position (`lat`, `lng`, `ts` always there). */
export const POSITION_PROPERTIES = {
	lat: { type: "number", minimum: -90, maximum: 90 },
	lng: { type: "number", minimum: -180, maximum: 180 },
	ts: { type: "integer", description: "Epoch milliseconds the position was taken." },
	acc: { type: "number", minimum: 0, maximum: MAX_ACCURACY_M, description: "Accuracy in metres." },
	hdg: { type: "number", minimum: 0, exclusiveMaximum: 360, description: "Heading in degrees from north." },
	spd: { type: "number", minimum: 0, maximum: MAX_SPEED_MS, description: "Speed in m/s." },
} as const;

/**
 * A reported position (PositionInput) as checkPosition takes it: `ts` (default now) must not be in
 * the future beyond MAX_FUTURE_SKEW_MS nor older than VENDOR_OFFLINE_AFTER_S; `null` is "not given".
 */
export const POSITION_INPUT_SCHEMA = {
	title: "PositionInput",
	type: "object",
	required: ["lat", "lng"],
	properties: {
		lat: POSITION_PROPERTIES.lat,
		lng: POSITION_PROPERTIES.lng,
		ts: { ...POSITION_PROPERTIES.ts, type: ["integer", "null"] },
		acc: { ...POSITION_PROPERTIES.acc, type: ["number", "null"] },
		hdg: { ...POSITION_PROPERTIES.hdg, type: ["number", "null"] },
		spd: { ...POSITION_PROPERTIES.spd, type: ["number", "null"] },
	},
} as const;

export type PositionCheck = { ok: true; position: Position } | { ok: false; field: string; message: string };

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function optionalInRange(
	input: PositionInput,
	field: "acc" | "hdg" | "spd",
	min: number,
	max: number,
	maxExclusive = false
): string | undefined {
	const v = input[field];
	if (v === undefined || v === null) return undefined;
	if (!isNumber(v)) return `${field} must be a finite number`;
	if (v < min || v > max || (maxExclusive && v === max)) return `${field} must be in [${min}, ${max}${maxExclusive ? ")" : "]"}`;
	return undefined;
}

/**
 * Checks a reported position: finite numbers, lat/lng in range, timestamp not in the future
 * beyond a small skew and not older than `maxAgeMs`, optional accuracy/heading/speed in range.
 * (Whether it is older than the vendor's previous position is the store's decision.)
 */
export function checkPosition(input: PositionInput, now: number, maxAgeMs: number): PositionCheck {
	const { lat, lng, ts } = input;
	if (!isNumber(lat) || lat < -90 || lat > 90) return { ok: false, field: "lat", message: "lat must be a finite number in [-90, 90]" };
	if (!isNumber(lng) || lng < -180 || lng > 180) return { ok: false, field: "lng", message: "lng must be a finite number in [-180, 180]" };
	let at = now;
	if (ts !== undefined && ts !== null) {
		if (!isNumber(ts) || !Number.isInteger(ts)) return { ok: false, field: "ts", message: "ts must be an integer (epoch milliseconds)" };
		if (ts > now + MAX_FUTURE_SKEW_MS) return { ok: false, field: "ts", message: "ts is in the future" };
		if (ts < now - maxAgeMs) return { ok: false, field: "ts", message: "ts is too old to be a live position" };
		at = ts;
	}
	const problem =
		optionalInRange(input, "acc", 0, MAX_ACCURACY_M) ??
		optionalInRange(input, "hdg", 0, 360, true) ??
		optionalInRange(input, "spd", 0, MAX_SPEED_MS);
	if (problem) return { ok: false, field: problem.split(" ")[0]!, message: problem };
	const position: Position = { lat, lng, ts: at };
	if (isNumber(input.acc)) position.acc = input.acc;
	if (isNumber(input.hdg)) position.hdg = input.hdg;
	if (isNumber(input.spd)) position.spd = input.spd;
	return { ok: true, position };
}
