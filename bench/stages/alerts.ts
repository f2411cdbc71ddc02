/**
 * Alerts (issue 16): the everyday ingest (200 vendors × 10 Hz, nobody watching) on an engine
 * holding 0, then 10 000, then 100 000 alerts — one DATA_DIR, the engine stopped between levels
 * and the alerts written to its collection as the alerts service stores them (bench/lib/alerts-seed.ts),
 * so each start loads them like a restarted deployment — then, on the 100 000-alert engine with the
 * ingest still running, drive vendors crossing circles for alert latency and webhook lag.
 */
import { randomUUID } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "nats";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { latLngToCell } from "h3-js";
import { mintDevToken } from "../../lib/auth.ts";
import { MAX_ALERTS_PER_USER } from "../../services/alerts/contract.ts";
import { jetStreamNames } from "../../services/outbound/jetstream.ts";
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
import { SHORTFALL } from "../lib/checks.ts";
import { BENCH_SECRET, liveCounters, sleep, startEngine, type EngineNode } from "../lib/engine.ts";
import type { ClientProc } from "../lib/ipc.ts";
import { connectVendors, forkClient } from "../lib/load.ts";
import { measureIngest } from "../lib/phases.ts";
import { boxAround, placesInBox } from "../lib/places.ts";
import { fmt, latencyStats, summarize } from "../lib/stats.ts";
import type { AlertsFigures, LatencyFigures, LatencyRound } from "./alerts-rows.ts";
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

/** Polls the fence gauge until geo holds `fences` (a round counts only then). */
async function untilFencesLoaded(engine: EngineNode, fences: number): Promise<void> {
	const deadline = Date.now() + FENCES_LOADED_TIMEOUT_MS;
	let loaded = await fencesLoaded(engine.livePort);
	while (loaded !== fences && Date.now() < deadline) {
		await sleep(250);
		loaded = await fencesLoaded(engine.livePort);
	}
	if (loaded !== fences) throw new StageError(`the engine holds ${loaded} fences, ${fences} were written to its DATA_DIR`);
}

/** An engine on `dataDir` with the vendors already onboarded there; resolves once geo holds `fences`. */
async function engineAt(ctx: BenchContext, stage: string, dataDir: string, identities: VendorIdentity[], fences: number) {
	const startedAt = Date.now();
	const nodeArgs = ctx.profile ? ["--cpu-prof", "--cpu-prof-dir=bench/profiles"] : [];
	const engine = await startEngine(stage, { DATA_DIR: dataDir }, nodeArgs, FENCES_LOADED_TIMEOUT_MS);
	try {
		await untilFencesLoaded(engine, fences);
	} catch (err) {
		await engine.proc.stop(20_000);
		throw err;
	}
	const startS = (Date.now() - startedAt) / 1000;
	ctx.log(
		stage,
		`engine up (pid ${engine.proc.pid}) with ${fences} fences loaded (venta_alerts_fences) ${fmt(startS, 1)} s after its start`
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

/** The webhook endpoint, the circles' owners signed in and the drive vendors connected on one client process. */
async function openDrive(ctx: BenchContext, stage: string, client: ClientProc, engine: EngineNode, drive: VendorIdentity[]) {
	const { url } = await client.call<{ url: string }>("receive");
	const admin = await mintDevToken(BENCH_SECRET, ADMIN, 3600);
	await rest(engine.baseUrl, admin, "POST", "/api/admin/webhook-endpoints", { url, events: ["location.proximity_alert"] });
	const owners = Math.ceil((DRIVE.vendors * DRIVE.perVendor) / MAX_ALERTS_PER_USER);
	const customers = await Promise.all(
		Array.from({ length: owners }, (_, k) =>
			mintDevToken(BENCH_SECRET, driveOwner(k * MAX_ALERTS_PER_USER), 3600).then(token => ({ token }))
		)
	);
	const connect: AlertsConnect = { url: engine.liveUrl, vendors: driveVendors(drive), customers, localAddresses: LOCAL_ADDRESSES };
	await client.call("connect", connect, 120_000);
	ctx.log(
		stage,
		`${owners} customer sockets (the circles' owners), ${drive.length} drive vendors hopping at ${DRIVE.hz} Hz; webhooks → ${url}`
	);
}

function toRound(s: AlertsSample): LatencyRound {
	return {
		hops: s.hops,
		alerts: s.alerts,
		webhooks: s.webhookMs.length,
		alert: latencyStats(s.alertMs),
		webhook: latencyStats(s.webhookMs),
		webhookFromEvent: latencyStats(s.webhookFromEventMs),
		clientCpuPercent: s.cpuPercent,
		errors: s.errors,
	};
}

/** Alert frames and webhooks of the drive vendors' hops, in rounds; then what arrived in all against the hops. */
async function latencyRounds(ctx: BenchContext, stage: string, engine: EngineNode, drive: VendorIdentity[]): Promise<LatencyFigures> {
	const client = forkClient("alerts", "bench/clients/alerts.ts");
	try {
		await openDrive(ctx, stage, client, engine, drive);
		await client.call("drive", { hz: DRIVE.hz });
		await sleep(ctx.quick ? 1000 : 3000);
		await client.call("sample");
		const rounds: LatencyRound[] = [];
		for (let r = 0; r < ctx.rounds; r++) {
			await sleep(ctx.quick ? 2000 : 5000);
			const round = toRound(await client.call<AlertsSample>("sample"));
			rounds.push(round);
			const { alert, webhook } = round;
			ctx.log(
				stage,
				`round ${r + 1}/${ctx.rounds}: ${round.hops} hops, ${round.alerts} alert frames p50 ${fmt(alert.p50)} p99 ${fmt(alert.p99)} max ${fmt(alert.max)} ms; ${round.webhooks} webhooks p50 ${fmt(webhook.p50, 0)} p99 ${fmt(webhook.p99, 0)} ms; client ${fmt(round.clientCpuPercent, 0)}%`
			);
		}
		await client.call("drive", { hz: 0 });
		await sleep(1500); // alerts and webhooks in flight
		const all = [...rounds, toRound(await client.call<AlertsSample>("sample"))];
		const sum = (pick: (r: LatencyRound) => number) => all.reduce((a, r) => a + pick(r), 0);
		const out = { rounds, hops: sum(r => r.hops), alerts: sum(r => r.alerts), webhooks: sum(r => r.webhooks) };
		ctx.log(stage, `${out.alerts} alert frames and ${out.webhooks} webhooks for ${out.hops} hops`);
		if (out.alerts < out.hops * SHORTFALL) ctx.note(`${stage}: ${out.alerts} alert frames for ${out.hops} hops`);
		if (out.webhooks < out.hops * SHORTFALL) ctx.note(`${stage}: ${out.webhooks} webhooks for ${out.hops} hops`);
		await client.call("close");
		return out;
	} finally {
		await client.close();
	}
}

/** The same drive on an engine with NATS_URL (webhooks on JetStream), holding the drive fences only; its streams are deleted after. */
async function jetStreamRun(ctx: BenchContext, dataDir: string, drive: VendorIdentity[], natsUrl: string, out: AlertsFigures) {
	const stage = "alerts/jetstream";
	const namespace = `bench-${randomUUID().slice(0, 8)}`;
	const fences = DRIVE.vendors * DRIVE.perVendor;
	const env = { DATA_DIR: dataDir, NATS_URL: natsUrl, NAMESPACE: namespace, NODE_ID: `${namespace}-a` };
	const engine = await startEngine(stage, env, [], FENCES_LOADED_TIMEOUT_MS);
	try {
		await untilFencesLoaded(engine, fences);
		ctx.log(stage, `engine up over NATS (namespace ${namespace}) with ${fences} fences loaded, no ingest`);
		out.latencyJetStream = await latencyRounds(ctx, stage, engine, drive);
	} finally {
		await engine.proc.stop(20_000);
		const nc = await connect({ servers: natsUrl });
		const jsm = await nc.jetstreamManager();
		const names = jetStreamNames(namespace);
		for (const stream of [names.stream, names.deadStream]) await jsm.streams.delete(stream).catch(() => false);
		await nc.close();
	}
}

export async function alertsStage(ctx: BenchContext, out: AlertsFigures, warmMs: number, natsUrl: string): Promise<void> {
	const dataDir = mkdtempSync(join(tmpdir(), "venta-bench-alerts-"));
	const jetStreamDir = `${dataDir}-jetstream`;
	try {
		const first = await startCompetitor(ctx, "alerts/0", "engine", {
			vendors: INGEST.vendors + DRIVE.vendors,
			env: { DATA_DIR: dataDir },
		});
		const identities = first.identities;
		const drive = identities.slice(INGEST.vendors);
		try {
			await rest(first.engine!.baseUrl, await mintDevToken(BENCH_SECRET, ADMIN, 3600), "GET", "/api/me"); // the admin-to-be exists
			const { client, result } = await ingestAt(ctx, "alerts/0", first, warmMs);
			out.ingest = [{ alerts: 0, ...result, fencesPerCell: [] }];
			await client.close();
		} finally {
			await first.stop();
		}
		await makeAdmin(dataDir, ADMIN);
		cpSync(dataDir, jetStreamDir, { recursive: true }); // the same vendors and users; the drive fences only
		const driveDocs = driveAlerts(
			DRIVE,
			drive.map(v => v.id)
		);
		await writeAlerts(jetStreamDir, driveDocs);
		const spread = spreadAlerts(
			ALERT_LEVELS[2] - driveDocs.length,
			SPREAD,
			identities.slice(0, INGEST.vendors).map(v => v.id)
		);
		let written = 0;
		for (const level of ALERT_LEVELS.slice(1)) {
			const docs = level === ALERT_LEVELS[2] ? [...spread.slice(written), ...driveDocs] : spread.slice(written, level);
			await writeAlerts(dataDir, docs);
			written += docs.length;
			const { latency, ...figures } = await levelRun(
				ctx,
				`alerts/${level}`,
				dataDir,
				identities,
				spread.slice(0, written),
				written,
				warmMs
			);
			out.ingest.push(figures);
			if (latency) out.latency = latency;
		}
		await jetStreamRun(ctx, jetStreamDir, drive, natsUrl, out);
	} finally {
		rmSync(dataDir, { recursive: true, force: true });
		rmSync(jetStreamDir, { recursive: true, force: true });
	}
}

/** One level: the engine started on DATA_DIR holding `written` alerts, the ingest measured; at the last level, latency too. */
async function levelRun(
	ctx: BenchContext,
	stage: string,
	dataDir: string,
	identities: VendorIdentity[],
	spread: Parameters<typeof fencesPerCell>[0],
	written: number,
	warmMs: number
) {
	const cells = placesInBox(INGEST_AREA, INGEST.vendors, INGEST.seed).map(p => latLngToCell(p.lat, p.lng, H3_RES));
	const perCell = fencesPerCell(spread, INGEST_AREA, cells, H3_RES);
	const s = summarize(perCell);
	ctx.log(
		stage,
		`${written} alerts in DATA_DIR; the ingest vendors' cells are each tested against ${fmt(s.median, 0)} fences (median; ${fmt(s.min, 0)}–${fmt(s.max, 0)})`
	);
	const { server, startS } = await engineAt(ctx, stage, dataDir, identities, written);
	try {
		const { client, result } = await ingestAt(ctx, stage, server, warmMs);
		let latency: LatencyFigures | undefined;
		if (written === ALERT_LEVELS[2]) {
			await client.call("rate", { perVendorHz: INGEST.hz }); // the ingest goes on under the alerts
			latency = await latencyRounds(ctx, `${stage}/latency`, server.engine!, identities.slice(INGEST.vendors));
		}
		await client.close();
		return { alerts: written, ...result, fencesPerCell: perCell, startS, latency };
	} finally {
		await server.stop();
	}
}
