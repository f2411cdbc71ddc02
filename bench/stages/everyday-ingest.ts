/**
 * Everyday ingest (issue 14): 2 000 positions/s, nobody watching, once as 200 vendors × 10 Hz and
 * once as 2 000 vendors × 1 Hz. At these rates a loop turn holds about one position, so what a
 * position costs cannot hide behind batching. Same machinery as the live stage's ingest figure:
 * server CPU per position from /proc and the share of it on the main thread.
 */
import type { BenchContext } from "../lib/context.ts";
import { placeVendors, type Competitor, type CompetitorKey } from "../lib/competitors.ts";
import { connectVendors, forkClient } from "../lib/load.ts";
import { measureIngest, type IngestAccepted, type IngestRound } from "../lib/phases.ts";
import { boxAround, placesInBox } from "../lib/places.ts";
import { fmt, fmtSummary } from "../lib/stats.ts";
import { atMost, med, shortMark, verdict, type Row } from "../lib/table.ts";

/** Hamburg, 10 km × 10 km: away from the other scenarios' areas, so positions left behind never show up in their snapshots. */
export const AREA = boxAround(53.55, 9.99, 10_000);
const SEED = 14_001;
/** Ascending in vendors: the second rate adds sockets to the first one's. */
const RATES = [
	{ vendors: 200, hz: 10 },
	{ vendors: 2000, hz: 1 },
] as const;
export const EVERYDAY_INGEST_VENDORS = RATES[RATES.length - 1]!.vendors;
const TARGET_VS_UWS = 1.5;
const TARGET_MAIN_THREAD = 0.85;

type Rate = (typeof RATES)[number];
const rateKey = (rate: Rate) => `${rate.vendors}x${rate.hz}Hz`;

export type EverydayIngestFigures = Record<string, { rounds: IngestRound[]; accepted: IngestAccepted }>;

/** `firstWarmMs`: the warm-up before the first rate (longer on a fresh server); the second rate warms up for `ctx.warmMs`. */
export async function everydayIngest(
	ctx: BenchContext,
	stage: string,
	server: Competitor,
	out: EverydayIngestFigures,
	firstWarmMs = ctx.warmMs
): Promise<void> {
	const vendors = placeVendors(server.identities, placesInBox(AREA, EVERYDAY_INGEST_VENDORS, SEED));
	const client = forkClient("vendors", "bench/clients/vendors.ts");
	try {
		let open = 0;
		for (const [i, rate] of RATES.entries()) {
			open = await connectVendors(ctx, stage, client, server.liveUrl, vendors.slice(open, rate.vendors), rate.vendors);
			ctx.log(stage, `${rate.vendors} vendors × ${rate.hz} Hz = ${rate.vendors * rate.hz} positions/s offered, nobody watching`);
			out[rateKey(rate)] = await measureIngest(ctx, stage, server, client, rate.hz, i === 0 ? firstWarmMs : ctx.warmMs);
		}
		await client.call("close", {}, 30_000);
	} finally {
		await client.close();
	}
}

export function everydayIngestRows(figures: Partial<Record<CompetitorKey, EverydayIngestFigures>>): Row[] {
	return RATES.map(rate => {
		const [e, w, u] = (["engine", "ws", "uws"] as const).map(k => figures[k]?.[rateKey(rate)]);
		const us = (x: typeof e) => med(x?.rounds, r => r.usPerPosition);
		const main = med(e?.rounds, r => r.mainThreadShare).median;
		const vsUws = us(e).median / us(u).median;
		const ratioMet = atMost(vsUws, TARGET_VS_UWS);
		return {
			figure: `7 Everyday ingest ${rate.vendors} × ${rate.hz} Hz: server CPU per position`,
			venta: `${fmtSummary(us(e), " µs")}${shortMark(e?.accepted)}, ${fmt(main * 100, 0)}% on the main thread`,
			comparison: `ws ${fmtSummary(us(w), " µs")}${shortMark(w?.accepted)}; bare uWS ${fmtSummary(us(u), " µs")}${shortMark(u?.accepted)}`,
			ratio: `${fmt(vsUws)}× uWS, ${fmt(us(e).median / us(w).median)}× ws`,
			target: `≤ ${TARGET_VS_UWS}× uWS, ≥ ${TARGET_MAIN_THREAD * 100}% main thread`,
			result: verdict(ratioMet === undefined ? undefined : ratioMet && main >= TARGET_MAIN_THREAD),
		};
	});
}
