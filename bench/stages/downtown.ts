/**
 * Downtown fan-out (issue 14): 200 vendors × 1 Hz inside 1.5 km² of Berlin Mitte and 200
 * watchers each watching the whole area (one bbox), so every position goes to all 200 watchers
 * and every watcher sees all 200 vendors. Server CPU per delivery and latency, as the live
 * stage's fan-out; run once more on an engine started with LIVE_FLUSH_MS=50 (a coalescing window).
 */
import type { BenchContext } from "../lib/context.ts";
import { placeVendors, type Competitor, type CompetitorKey } from "../lib/competitors.ts";
import type { DeliveryTotal } from "../lib/checks.ts";
import type { ClientProc } from "../lib/ipc.ts";
import { bringOnline, connectVendors, connectWatchers, forkClient } from "../lib/load.ts";
import { measureFanout, type FanoutRound } from "../lib/phases.ts";
import { boxAround, placesInBox } from "../lib/places.ts";
import { fmt, fmtSummary } from "../lib/stats.ts";
import { atMost, med, shortMark, verdict, type Row } from "../lib/table.ts";

const SIDE_M = Math.sqrt(1.5e6); // a square of 1.5 km²
const AREA = boxAround(52.52, 13.405, SIDE_M);
const SEED = 14_002;
const VENDORS = 200;
const WATCHERS = 200;
const HZ = 1;
const WATCHER_PROCS = 2;
export const DOWNTOWN_VENDORS = VENDORS;
/** The engine setting of the second run. */
export const FLUSH_ENV = { LIVE_FLUSH_MS: "50" };
const TARGET_VS_UWS = 1.2;
const TARGET_FLUSH_VS_UWS = 0.5;
const TARGET_FLUSH_P99_MS = 70;

export type DowntownFigures = { rounds?: FanoutRound[]; delivery?: DeliveryTotal };

/** Runs the scenario on `server` (its first identities), measuring after `warmMs` of the load. */
export async function downtown(
	ctx: BenchContext,
	stage: string,
	server: Competitor,
	out: DowntownFigures,
	warmMs = ctx.warmMs
): Promise<void> {
	const vendors = placeVendors(server.identities, placesInBox(AREA, VENDORS, SEED));
	const clients: ClientProc[] = [];
	try {
		const vendorsClient = forkClient("vendors", "bench/clients/vendors.ts");
		clients.push(vendorsClient);
		await connectVendors(ctx, stage, vendorsClient, server.liveUrl, vendors);
		await bringOnline(vendorsClient, HZ);
		const watchers = await connectWatchers(
			ctx,
			stage,
			server.liveUrl,
			Array.from({ length: WATCHERS }, () => ({ bbox: AREA })),
			WATCHER_PROCS,
			{ expectVendors: WATCHERS * VENDORS }
		);
		clients.push(...watchers);
		ctx.log(
			stage,
			`${VENDORS} vendors × ${HZ} Hz in 1.5 km², ${WATCHERS} watchers of the whole area = ${VENDORS * HZ * WATCHERS} deliveries/s offered`
		);
		Object.assign(out, await measureFanout(ctx, stage, server, vendorsClient, watchers, WATCHERS, warmMs));
		await vendorsClient.call("close", {}, 30_000);
	} finally {
		await Promise.allSettled(clients.map(c => c.close()));
	}
}

export function downtownRows(figures: Partial<Record<CompetitorKey | "engineFlush", DowntownFigures>>): Row[] {
	const { engine: e, ws: w, uws: u, engineFlush: f } = figures;
	const us = (x: DowntownFigures | undefined) => med(x?.rounds, r => r.usPerDelivery);
	const p99 = (x: DowntownFigures | undefined) => med(x?.rounds, r => r.latency.p99);
	const vsUws = us(e).median / us(u).median;
	const flushVsUws = us(f).median / us(u).median;
	const flushMet = atMost(flushVsUws, TARGET_FLUSH_VS_UWS);
	return [
		{
			figure: `8 Downtown fan-out (${VENDORS} × ${HZ} Hz in 1.5 km², ${WATCHERS} watchers see all): CPU per delivery`,
			venta: `${fmtSummary(us(e), " µs", 3)}${shortMark(e?.delivery)}, p99 ${fmtSummary(p99(e), " ms")}`,
			comparison: `bare uWS ${fmtSummary(us(u), " µs", 3)}${shortMark(u?.delivery)}, p99 ${fmt(p99(u).median)} ms; ws ${fmtSummary(us(w), " µs", 3)}${shortMark(w?.delivery)}, p99 ${fmt(p99(w).median)} ms`,
			ratio: `${fmt(vsUws)}× uWS, ${fmt(us(e).median / us(w).median)}× ws`,
			target: `≤ ${TARGET_VS_UWS}× uWS`,
			result: verdict(atMost(vsUws, TARGET_VS_UWS)),
		},
		{
			figure: `8 Downtown, engine with LIVE_FLUSH_MS=${FLUSH_ENV.LIVE_FLUSH_MS}: CPU per delivered position`,
			venta: `${fmtSummary(us(f), " µs", 3)}${shortMark(f?.delivery)}, p50 ${fmt(med(f?.rounds, r => r.latency.p50).median)} / p99 ${fmtSummary(p99(f), " ms")}`,
			comparison: `bare uWS (unbatched) ${fmtSummary(us(u), " µs", 3)}`,
			ratio: `${fmt(flushVsUws)}× uWS`,
			target: `≤ ${TARGET_FLUSH_VS_UWS}× uWS, p99 ≤ ${TARGET_FLUSH_P99_MS} ms`,
			result: verdict(flushMet === undefined ? undefined : flushMet && p99(f).median <= TARGET_FLUSH_P99_MS),
		},
	];
}
