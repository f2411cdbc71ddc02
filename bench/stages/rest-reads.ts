/**
 * REST reads as a share of the gateway's own ceiling (issue 14): with the city's 200 vendors
 * online, autocannon at 32 connections against `GET /health/live` (what the gateway serves with
 * no work behind it), `GET /api/discovery/nearby` (r = 1 km, a different point inside the city
 * per request) and `GET /api/vendors/:id` (rotating over the city's vendors), one after the other
 * on the same engine in every round: req/s, p99, server CPU per request, and the reads' req/s as
 * a share of /health/live's in the same round.
 */
import { distanceM } from "../../lib/geo.ts";
import type { HttpLoadResult, HttpLoadRun } from "../clients/http-load.ts";
import { type BenchContext, StageError } from "../lib/context.ts";
import type { EngineNode } from "../lib/engine.ts";
import { forkClient } from "../lib/load.ts";
import { boxAround } from "../lib/places.ts";
import { seededRng } from "../../scripts/simulate/motion.ts";
import { cpuNsBetween, cpuSample, mainThreadShare } from "../lib/proc.ts";
import { fmt, fmtSummary } from "../lib/stats.ts";
import { med, verdict, type Row } from "../lib/table.ts";
import { CITY_AREA, CITY_HZ, CITY_VENDORS, type City } from "./city.ts";

const CONNECTIONS = 32;
const RADIUS_M = 1000;
const SEED = 14_005;
/** Query points: a 4 km box in the middle of the 6 km city, so every 1 km circle lies inside it. */
const QUERY_AREA = boxAround((CITY_AREA[1] + CITY_AREA[3]) / 2, (CITY_AREA[0] + CITY_AREA[2]) / 2, 4000);
const QUERY_POINTS = 1000;
/** A vendor this close to the circle's edge may be in or out (positions jitter by a few metres). */
const EDGE_M = 10;
const TARGET_SHARE = 0.25;
const TARGET_P99_MS = 20;

const ENDPOINTS = ["health", "nearby", "vendor"] as const;
type Endpoint = (typeof ENDPOINTS)[number];
const LABELS: Record<Endpoint, string> = {
	health: "GET /health/live",
	nearby: `GET /api/discovery/nearby r = ${RADIUS_M / 1000} km`,
	vendor: "GET /api/vendors/:id",
};

export type RestResult = HttpLoadResult & { serverCpuPercent: number; mainThreadShare: number; usPerRequest: number };
export type RestRound = Record<Endpoint, RestResult> & { nearbyShare: number; vendorShare: number };
export type RestFigures = { rounds?: RestRound[] };

const nearbyPath = (lat: number, lng: number) => `/api/discovery/nearby?lat=${lat.toFixed(6)}&lng=${lng.toFixed(6)}&radius=${RADIUS_M}`;

function endpointPaths(city: City): Record<Endpoint, string[]> {
	const random = seededRng(SEED);
	const [w, s, e, n] = QUERY_AREA;
	return {
		health: ["/health/live"],
		nearby: Array.from({ length: QUERY_POINTS }, () => nearbyPath(s + random() * (n - s), w + random() * (e - w))),
		vendor: city.vendors.map(v => `/api/vendors/${encodeURIComponent(v.id)}`),
	};
}

/** Before the load: each endpoint answers 200, nearby finds the city's vendors within 1 km, a vendor read returns that vendor. */
async function checkAnswers(baseUrl: string, city: City): Promise<void> {
	const get = async (path: string) => {
		const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
		if (res.status !== 200) throw new StageError(`${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
		return res.json() as Promise<any>;
	};
	await get("/health/live");
	const [lat, lng] = [(QUERY_AREA[1] + QUERY_AREA[3]) / 2, (QUERY_AREA[0] + QUERY_AREA[2]) / 2];
	const distances = city.vendors.map(v => distanceM(lat, lng, v.lat, v.lng));
	const [surely, maybe] = [RADIUS_M - EDGE_M, RADIUS_M + EDGE_M].map(r => distances.filter(d => d <= r).length);
	const { total } = (await get(nearbyPath(lat, lng))) as { total: number };
	if (!(total >= surely! && total <= maybe!) || total === 0)
		throw new StageError(`nearby found ${total} vendors within ${RADIUS_M} m of the city centre, expected ${surely}–${maybe}`);
	const vendor = city.vendors[0]!;
	const body = (await get(`/api/vendors/${encodeURIComponent(vendor.id)}`)) as { id: string };
	if (body.id !== vendor.id) throw new StageError(`GET /api/vendors/${vendor.id} answered vendor ${body.id}`);
}

export async function restReads(ctx: BenchContext, stage: string, engine: EngineNode, city: City, out: RestFigures): Promise<void> {
	await city.client.call("rate", { perVendorHz: CITY_HZ }); // online for the whole stage
	await checkAnswers(engine.baseUrl, city);
	const paths = endpointPaths(city);
	const [warmS, durationS] = ctx.quick ? [0.3, 0.6] : [2, 5];
	const http = forkClient("http-load", "bench/clients/http-load.ts");
	const load = (endpoint: Endpoint, seconds: number) =>
		http.call<HttpLoadResult>(
			"run",
			{ baseUrl: engine.baseUrl, paths: paths[endpoint], connections: CONNECTIONS, durationS: seconds } satisfies HttpLoadRun,
			60_000
		);
	out.rounds = [];
	try {
		// Each endpoint once unmeasured: the first requests of a path pay for JIT and connection set-up.
		for (const endpoint of ENDPOINTS) await load(endpoint, warmS);
		for (let r = 0; r < ctx.rounds; r++) {
			const round: Partial<Record<Endpoint, RestResult>> = {};
			for (const endpoint of ENDPOINTS) {
				const cpu = cpuSample(engine.proc.pid);
				const res = await load(endpoint, durationS);
				const cpuNow = cpuSample(engine.proc.pid);
				const cpuNs = cpuNsBetween(cpu, cpuNow);
				const result: RestResult = {
					...res,
					serverCpuPercent: (cpuNs / 1e9 / res.durationS) * 100,
					mainThreadShare: mainThreadShare(engine.proc.pid, cpu, cpuNow),
					usPerRequest: cpuNs / 1000 / res.total,
				};
				round[endpoint] = result;
				ctx.log(
					stage,
					`round ${r + 1}/${ctx.rounds} ${LABELS[endpoint]}: ${fmt(res.requestsPerSec, 0)} req/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms, ${fmt(result.usPerRequest, 0)} µs CPU/request, server ${fmt(result.serverCpuPercent, 0)}% (${fmt(result.mainThreadShare * 100, 0)}% main thread), client ${fmt(res.cpuPercent, 0)}%`
				);
				if (res.non2xx > 0 || res.errors > 0)
					ctx.note(`${stage} round ${r + 1} ${LABELS[endpoint]}: ${res.non2xx} non-2xx, ${res.errors} errors of ${res.total}`);
			}
			const { health, nearby, vendor } = round as Record<Endpoint, RestResult>;
			out.rounds.push({
				health,
				nearby,
				vendor,
				nearbyShare: nearby.requestsPerSec / health.requestsPerSec,
				vendorShare: vendor.requestsPerSec / health.requestsPerSec,
			});
		}
	} finally {
		await http.close();
	}
}

export function restReadsRows(figures: RestFigures | undefined): Row[] {
	const rounds = figures?.rounds;
	if (!rounds?.length) return [];
	const failing = (e: Endpoint) => {
		const bad = rounds.reduce((a, r) => a + r[e].non2xx + r[e].errors, 0);
		return bad ? ` (${bad} non-2xx or errors)` : "";
	};
	const cell = (e: Endpoint) =>
		`${fmtSummary(
			med(rounds, r => r[e].requestsPerSec),
			" req/s",
			0
		)}${failing(e)}, p99 ${fmt(med(rounds, r => r[e].p99Ms).median, 1)} ms, ${fmt(med(rounds, r => r[e].usPerRequest).median, 0)} µs CPU/request (${fmt(med(rounds, r => r[e].mainThreadShare * 100).median, 0)}% main thread)`;
	const percent = (pick: (r: RestRound) => number) => {
		const s = med(rounds, r => pick(r) * 100);
		return `${fmtSummary(s, "%", 1)} of /health/live`;
	};
	const health = fmt(med(rounds, r => r.health.requestsPerSec).median, 0);
	const share = med(rounds, r => r.nearbyShare).median;
	const p99 = med(rounds, r => r.nearby.p99Ms).median;
	const scenario = `${CONNECTIONS} connections, ${CITY_VENDORS} online`;
	return [
		{
			figure: `10 REST ${LABELS.health} (${scenario})`,
			venta: cell("health"),
			comparison: "the gateway's own ceiling",
			ratio: "—",
			target: "—",
			result: "—",
		},
		{
			figure: `10 REST ${LABELS.nearby}`,
			venta: cell("nearby"),
			comparison: `/health/live ${health} req/s`,
			ratio: percent(r => r.nearbyShare),
			target: `≥ ${TARGET_SHARE * 100}% of /health/live, p99 ≤ ${TARGET_P99_MS} ms`,
			result: verdict(Number.isFinite(share) ? share >= TARGET_SHARE && p99 <= TARGET_P99_MS && !failing("nearby") : undefined),
		},
		{
			figure: `10 REST ${LABELS.vendor}`,
			venta: cell("vendor"),
			comparison: `/health/live ${health} req/s`,
			ratio: percent(r => r.vendorShare),
			target: "—",
			result: "—",
		},
	];
}
