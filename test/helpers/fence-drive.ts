import { latLngToCell } from "h3-js";
import { expect } from "vitest";
import type { LatLng } from "../../lib/geo.ts";
import { ALERT_METRICS } from "../../services/geo/alerting.ts";
import type { UpdateManyParams } from "../../services/geo/contract.ts";
import type { TestEngine } from "./engine.ts";
import { MITTE, offset } from "./fences.ts";

export const square = (center: LatLng, half: number): [number, number][] =>
	[offset(center, -half, -half), offset(center, half, -half), offset(center, half, half), offset(center, -half, half)].map(p => [
		p.lng,
		p.lat,
	]);

/** Where the zone is: 3 km east of the alerts, so nothing there fires them. */
export const MARKET = offset(MITTE, 3_000);

/**
 * The vendors' clock: positions carry their own `ts`, and the minimum interval (≥ 60 s) and dwell
 * are measured on it, so the tests start it minutes back (VENDOR_OFFLINE_AFTER_S allows) and move
 * it on instead of waiting.
 */
export const LIVE_WINDOW_S = "900";
export function vendorClock() {
	let ts = Date.now() - 800_000;
	return {
		next: (afterS = 1) => (ts += afterS * 1000),
		/** The clock as of now (it never runs ahead of the real one). */
		check: () => expect(ts).toBeLessThan(Date.now()),
	};
}

/** Positions as a live gateway writes them: geo.updateMany with the cell it computed, one second apart on `clock`. */
export async function drive(
	engine: TestEngine,
	clock: ReturnType<typeof vendorClock>,
	vendorId: string,
	points: LatLng[],
	opts: { firstAfterS?: number; nodeID?: string } = {}
): Promise<void> {
	for (const [i, p] of points.entries()) {
		const ts = clock.next(i === 0 ? (opts.firstAfterS ?? 1) : 1);
		const positions: UpdateManyParams["positions"] = [{ vendorId, ...p, ts, cell: latLngToCell(p.lat, p.lng, engine.config.h3Res) }];
		const call = opts.nodeID ? { nodeID: opts.nodeID } : {};
		const [result] = await engine.broker.call<{ applied: boolean }[], UpdateManyParams>("geo.updateMany", { positions }, call);
		expect(result).toMatchObject({ applied: true });
	}
	clock.check();
}

/** The fences a geo node has loaded, from its venta_alerts_fences gauge. */
export const loadedFences = (engine: TestEngine) =>
	engine.broker.metrics.getMetric(ALERT_METRICS.fences)?.get({ node: engine.broker.nodeID })?.value ?? 0;
