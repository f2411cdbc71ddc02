/**
 * The everyday-load stages of issue 14, each its own `--only` name: `everyday-ingest`,
 * `downtown`, `rush`, `rest`. One server per competitor runs every selected one in turn (each
 * in an area of its own, so what one leaves behind is never in another's snapshots), which
 * spares a start and an onboarding per stage; `downtown` runs once more on an engine started
 * with LIVE_FLUSH_MS.
 */
import type { BenchContext } from "../lib/context.ts";
import { startCompetitor, type CompetitorKey } from "../lib/competitors.ts";
import type { Row } from "../lib/table.ts";
import { CITY_VENDORS, openCity } from "./city.ts";
import { DOWNTOWN_VENDORS, downtown, downtownRows, FLUSH_ENV, type DowntownFigures } from "./downtown.ts";
import { EVERYDAY_INGEST_VENDORS, everydayIngest, everydayIngestRows, type EverydayIngestFigures } from "./everyday-ingest.ts";
import { restReads, restReadsRows, type RestFigures } from "./rest-reads.ts";
import { rushHour, rushHourRows, type RushFigures } from "./rush-hour.ts";

export const EVERYDAY_STAGES = ["everyday-ingest", "downtown", "rush", "rest"] as const;
type EverydayStage = (typeof EVERYDAY_STAGES)[number];

export type EverydayFigures = {
	"everyday-ingest": Partial<Record<CompetitorKey, EverydayIngestFigures>>;
	downtown: Partial<Record<CompetitorKey | "engineFlush", DowntownFigures>>;
	rush: Partial<Record<CompetitorKey, RushFigures>>;
	/** The engine's alone: the ceiling it is compared with is its own gateway's. */
	rest: { engine?: RestFigures };
};

/**
 * The first measured phase on a fresh server warms up this long at least: in the first seconds
 * after a start, JIT and heap growth put every server's CPU per position up to twice its later
 * figure, mostly on background threads (seen with `ws` and bare uWS alike).
 */
export const FRESH_SERVER_WARM_MS = 2500;

export async function everydayStages(
	ctx: BenchContext,
	selected: ReadonlySet<EverydayStage>,
	competitors: readonly CompetitorKey[],
	figures: EverydayFigures
): Promise<void> {
	// Ingest uses every identity and closes its sockets before the next stage; downtown's vendors are
	// the first identities, the city's the next ones.
	const cityOffset = selected.has("downtown") ? DOWNTOWN_VENDORS : 0;
	const freshWarmMs = Math.max(ctx.warmMs, FRESH_SERVER_WARM_MS);
	const needsCity = (key: CompetitorKey) => selected.has("rush") || (selected.has("rest") && key === "engine");
	for (const key of competitors) {
		const vendors = Math.max(
			selected.has("everyday-ingest") ? EVERYDAY_INGEST_VENDORS : 0,
			selected.has("downtown") ? DOWNTOWN_VENDORS : 0,
			needsCity(key) ? cityOffset + CITY_VENDORS : 0
		);
		if (vendors === 0) continue;
		await ctx.attempt(`everyday/${key}`, async () => {
			const server = await startCompetitor(ctx, `everyday/${key}`, key, { vendors });
			// Rush and REST warm up on their own (an unmeasured opening, an unmeasured run per endpoint).
			const warmFirst = selected.has("everyday-ingest") ? "everyday-ingest" : "downtown";
			const firstWarmMs = (stage: EverydayStage) => (stage === warmFirst ? freshWarmMs : ctx.warmMs);
			try {
				if (selected.has("everyday-ingest")) {
					const out: EverydayIngestFigures = {};
					figures["everyday-ingest"][key] = out;
					await ctx.attempt(`everyday-ingest/${key}`, () =>
						everydayIngest(ctx, `everyday-ingest/${key}`, server, out, firstWarmMs("everyday-ingest"))
					);
				}
				if (selected.has("downtown")) {
					const out: DowntownFigures = {};
					figures.downtown[key] = out;
					await ctx.attempt(`downtown/${key}`, () => downtown(ctx, `downtown/${key}`, server, out, firstWarmMs("downtown")));
				}
				if (!needsCity(key)) return;
				const city = await openCity(ctx, `city/${key}`, server, cityOffset);
				try {
					if (selected.has("rush")) {
						const out: RushFigures = {};
						figures.rush[key] = out;
						await ctx.attempt(`rush/${key}`, () => rushHour(ctx, `rush/${key}`, server, city, out));
					}
					const { engine } = server;
					if (selected.has("rest") && engine) {
						const out: RestFigures = {};
						figures.rest.engine = out;
						await ctx.attempt("rest/engine", () => restReads(ctx, "rest/engine", engine, city, out));
					}
				} finally {
					await city.close();
				}
			} finally {
				await server.stop();
			}
		});
	}
	if (selected.has("downtown") && competitors.includes("engine")) {
		const stage = "downtown/engine-flush";
		await ctx.attempt(stage, async () => {
			const server = await startCompetitor(ctx, stage, "engine", { vendors: DOWNTOWN_VENDORS, env: FLUSH_ENV });
			const out: DowntownFigures = {};
			figures.downtown.engineFlush = out;
			try {
				await downtown(ctx, stage, server, out, freshWarmMs);
			} finally {
				await server.stop();
			}
		});
	}
}

export function everydayRows(figures: Partial<EverydayFigures>): Row[] {
	return [
		...(figures["everyday-ingest"] ? everydayIngestRows(figures["everyday-ingest"]) : []),
		...(figures.downtown ? downtownRows(figures.downtown) : []),
		...(figures.rush ? rushHourRows(figures.rush) : []),
		...(figures.rest ? restReadsRows(figures.rest.engine) : []),
	];
}
