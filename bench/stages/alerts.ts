/**
 * Alerts (issue 16): the everyday ingest (200 vendors × 10 Hz, nobody watching) on an engine
 * holding 0, then 10 000, then 100 000 alerts — one DATA_DIR, the engine stopped between levels
 * and the alerts written to its collection as the alerts service stores them (bench/lib/alerts-seed.ts),
 * so each start loads them like a restarted deployment — then, on the 100 000-alert engine with the
 * ingest still running, drive vendors crossing circles for alert latency and webhook lag.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { latLngToCell } from "h3-js";
import { mintDevToken } from "../../lib/auth.ts";
import type { AlertsConnect, AlertsSample, DriveVendor } from "../clients/alerts.ts";
import {
	driveAlerts,
	driveCenter,
	driveOwner,
	fencesPerCell,
	makeAdmin,
	spreadAlerts,
	writeAlerts,
	type DriveLayout,
} from "../lib/alerts-seed.ts";
import { placeVendors, startCompetitor, type Competitor, type VendorIdentity } from "../lib/competitors.ts";
import { type BenchContext, LOCAL_ADDRESSES, StageError } from "../lib/context.ts";
import { BENCH_SECRET, liveCounters, sleep, startEngine } from "../lib/engine.ts";
import { connectVendors, forkClient } from "../lib/load.ts";
import { measureIngest } from "../lib/phases.ts";
import { boxAround, placesInBox } from "../lib/places.ts";
import { fmt, latencyStats, summarize } from "../lib/stats.ts";
import type { AlertsFigures, LatencyRound } from "./alerts-rows.ts";
import { AREA as INGEST_AREA } from "./everyday-ingest.ts";

export const ALERT_LEVELS = [0, 10_000, 100_000] as const;
const INGEST = { vendors: 200, hz: 10, seed: 14_001 };
/** 100 drive vendors × 64 circles of 100 m, 300 m apart: a hop per second re-enters a circle every 64 s (> the 60 s minimum interval). */
export const DRIVE: DriveLayout & { vendors: number; hz: number } = {
	vendors: 100,
	hz: 1,
	origin: { lat: 53.87, lng: 10.69 }, // Lübeck, inside the region, 60 km from the ingest city
	radius: 100,
	spacingM: 300,
	rowM: 500,
	perVendor: 64,
};
/**
 * 10% of the alerts in Hamburg (30 km × 30 km around the 10 km ingest box: about the city's share
 * of northern Germany's people), the rest over 400 km × 400 km around it.
 */
const SPREAD = { city: boxAround(53.55, 9.99, 30_000), region: boxAround(53.55, 9.99, 400_000), cityShare: 0.1, seed: 16_001 };
const H3_RES = 8;
const ADMIN = "user_bench_admin";
/** Loading 100 000 fences at start takes a minute or more here (geo indexes each one on its main thread). */
const FENCES_LOADED_TIMEOUT_MS = 300_000;

/** The engine's `venta_alerts_fences` gauge (geo's loaded fences), from /metrics. */
export async function fencesLoaded(livePort: number): Promise<number> {
	const text = await (await fetch(`http://127.0.0.1:${livePort}/metrics`)).text();
	const m = /^venta_alerts_fences(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(text);
	return m ? Number(m[1]) : 0;
}

/** An engine on `dataDir` with the vendors already onboarded there; resolves once geo holds `fences`. */
async function engineAt(ctx: BenchContext, stage: string, dataDir: string, identities: VendorIdentity[], fences: number) {
	const startedAt = Date.now();
	const nodeArgs = ctx.profile ? ["--cpu-prof", "--cpu-prof-dir=bench/profiles"] : [];
	const engine = await startEngine(stage, { DATA_DIR: dataDir }, nodeArgs, FENCES_LOADED_TIMEOUT_MS);
	const deadline = Date.now() + FENCES_LOADED_TIMEOUT_MS;
	let loaded = await fencesLoaded(engine.livePort);
	while (loaded !== fences && Date.now() < deadline) {
		await sleep(250);
		loaded = await fencesLoaded(engine.livePort);
	}
	if (loaded !== fences) {
		await engine.proc.stop(20_000);
		throw new StageError(`the engine holds ${loaded} fences, ${fences} were written to its DATA_DIR`);
	}
	const startS = (Date.now() - startedAt) / 1000;
	ctx.log(
		stage,
		`engine up (pid ${engine.proc.pid}) with ${loaded} fences loaded (venta_alerts_fences) ${fmt(startS, 1)} s after its start`
	);
	const server: Competitor = {
		key: "engine",
		label: "Venta engine",
		pid: engine.proc.pid,
		liveUrl: engine.liveUrl,
		counters: () => liveCounters(engine),
		identities,
		stop: () => engine.proc.stop(20_000),
		engine,
	};
	return { server, startS };
}

async function ingestAt(ctx: BenchContext, stage: string, server: Competitor, warmMs: number) {
	const client = forkClient("vendors", "bench/clients/vendors.ts");
	const vendors = placeVendors(server.identities, placesInBox(INGEST_AREA, INGEST.vendors, INGEST.seed));
	await connectVendors(ctx, stage, client, server.liveUrl, vendors);
	ctx.log(stage, `${INGEST.vendors} vendors × ${INGEST.hz} Hz = ${INGEST.vendors * INGEST.hz} positions/s, nobody watching`);
	return { client, result: await measureIngest(ctx, stage, server, client, INGEST.hz, warmMs) };
}

async function rest(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
	const res = await fetch(`${baseUrl}${path}`, {
		method,
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
		signal: AbortSignal.timeout(15_000),
	});
	if (!res.ok) throw new StageError(`${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
	return res.json();
}

const driveVendors = (identities: VendorIdentity[]): DriveVendor[] =>
	identities.map((v, i) => ({
		id: v.id,
		token: v.token!,
		path: Array.from({ length: DRIVE.perVendor }, (_, j) => driveCenter(DRIVE, i, j)),
	}));

/** Alert frames and webhooks of the drive vendors' hops, in rounds, with the ingest going on. */
async function latencyRounds(ctx: BenchContext, stage: string, server: Competitor, drive: VendorIdentity[], out: AlertsFigures) {
	const { baseUrl, liveUrl } = server.engine!;
	const client = forkClient("alerts", "bench/clients/alerts.ts");
	try {
		const { url } = await client.call<{ url: string }>("receive");
		const admin = await mintDevToken(BENCH_SECRET, ADMIN, 3600);
		await rest(baseUrl, admin, "POST", "/api/admin/webhook-endpoints", { url, events: ["location.proximity_alert"] });
		const owners = DRIVE.vendors * DRIVE.perVendor;
		const customers = await Promise.all(
			Array.from({ length: Math.ceil(owners / 20) }, (_, k) =>
				mintDevToken(BENCH_SECRET, driveOwner(k * 20), 3600).then(token => ({ token }))
			)
		);
		const connect: AlertsConnect = { url: liveUrl, vendors: driveVendors(drive), customers, localAddresses: LOCAL_ADDRESSES };
		await client.call("connect", connect, 120_000);
		ctx.log(
			stage,
			`${customers.length} customer sockets (the circles' owners) and ${drive.length} drive vendors hopping at ${DRIVE.hz} Hz; webhook endpoint → ${url}`
		);
		await client.call("drive", { hz: DRIVE.hz });
		await sleep(ctx.quick ? 1000 : 3000);
		await client.call("sample");
		const roundMs = ctx.quick ? 2000 : 5000;
		const rounds: LatencyRound[] = [];
		for (let r = 0; r < ctx.rounds; r++) {
			await sleep(roundMs);
			const s = await client.call<AlertsSample>("sample");
			const round = {
				hops: s.hops,
				alerts: s.alerts,
				webhooks: s.webhookMs.length,
				alert: latencyStats(s.alertMs),
				webhook: latencyStats(s.webhookMs),
				webhookFromEvent: latencyStats(s.webhookFromEventMs),
				clientCpuPercent: s.cpuPercent,
				errors: s.errors,
			};
			rounds.push(round);
			ctx.log(
				stage,
				`round ${r + 1}/${ctx.rounds}: ${s.hops} hops, ${s.alerts} alert frames p50 ${fmt(round.alert.p50)} p99 ${fmt(round.alert.p99)} max ${fmt(round.alert.max)} ms; ${round.webhooks} webhooks p50 ${fmt(round.webhook.p50, 0)} p99 ${fmt(round.webhook.p99, 0)} ms; client ${fmt(s.cpuPercent, 0)}%`
			);
		}
		await client.call("drive", { hz: 0 });
		await sleep(1500); // alerts and webhooks in flight
		const last = await client.call<AlertsSample>("sample");
		const sum = (pick: (r: { hops: number; alerts: number; webhooks: number }) => number) =>
			[...rounds, { ...last, webhooks: last.webhookMs.length }].reduce((a, r) => a + pick(r), 0);
		out.latency = { rounds, hops: sum(r => r.hops), alerts: sum(r => r.alerts), webhooks: sum(r => r.webhooks) };
		ctx.log(stage, `${out.latency.alerts} alert frames and ${out.latency.webhooks} webhooks for ${out.latency.hops} hops`);
		if (out.latency.alerts < out.latency.hops) ctx.note(`${stage}: ${out.latency.alerts} alert frames for ${out.latency.hops} hops`);
		await client.call("close");
	} finally {
		await client.close();
	}
}

export async function alertsStage(ctx: BenchContext, out: AlertsFigures, warmMs: number): Promise<void> {
	const dataDir = mkdtempSync(join(tmpdir(), "venta-bench-alerts-"));
	try {
		const first = await startCompetitor(ctx, "alerts/0", "engine", { vendors: INGEST.vendors + DRIVE.vendors, env: { DATA_DIR: dataDir } });
		const identities = first.identities;
		const ingestIds = identities.slice(0, INGEST.vendors).map(v => v.id);
		const drive = identities.slice(INGEST.vendors);
		try {
			await rest(first.engine!.baseUrl, await mintDevToken(BENCH_SECRET, ADMIN, 3600), "GET", "/api/me"); // the admin-to-be exists
			const { client, result } = await ingestAt(ctx, "alerts/0", first, warmMs);
			out.ingest = [{ alerts: 0, ...result, fencesPerCell: [] }];
			await client.close();
		} finally {
			await first.stop();
		}
		const driveDocs = driveAlerts(
			DRIVE,
			drive.map(v => v.id)
		);
		const spread = spreadAlerts(ALERT_LEVELS[2] - driveDocs.length, SPREAD, ingestIds);
		const cells = placesInBox(INGEST_AREA, INGEST.vendors, INGEST.seed).map(p => latLngToCell(p.lat, p.lng, H3_RES));
		let written = 0;
		for (const level of ALERT_LEVELS.slice(1)) {
			const stage = `alerts/${level}`;
			const docs = level === ALERT_LEVELS[2] ? [...spread.slice(written), ...driveDocs] : spread.slice(written, level);
			await writeAlerts(dataDir, docs);
			written += docs.length;
			const perCell = fencesPerCell([...spread.slice(0, Math.min(written, spread.length))], INGEST_AREA, cells, H3_RES);
			const s = summarize(perCell);
			ctx.log(
				stage,
				`${written} alerts written to DATA_DIR; the ingest vendors' cells are each tested against ${fmt(s.median, 0)} fences (median; ${fmt(s.min, 0)}–${fmt(s.max, 0)})`
			);
			if (level === ALERT_LEVELS[2]) await makeAdmin(dataDir, ADMIN);
			const { server, startS } = await engineAt(ctx, stage, dataDir, identities, written);
			try {
				const { client, result } = await ingestAt(ctx, stage, server, warmMs);
				out.ingest.push({ alerts: written, ...result, fencesPerCell: perCell, startS });
				if (level === ALERT_LEVELS[2]) {
					await client.call("rate", { perVendorHz: INGEST.hz }); // the ingest goes on under the alerts
					await latencyRounds(ctx, `${stage}/latency`, server, drive, out);
				}
				await client.close();
			} finally {
				await server.stop();
			}
		}
	} finally {
		rmSync(dataDir, { recursive: true, force: true });
	}
}
