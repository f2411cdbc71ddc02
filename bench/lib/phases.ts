/**
 * The measured phases several stages share: ingest (vendors only, server CPU per position) and
 * fan-out (vendors and watchers, server CPU per delivery and latency), each in rounds with the
 * server's CPU read from /proc around every round and completeness checked over all of them.
 */
import type { VendorsSample } from "../clients/vendors.ts";
import { isShort, SHORTFALL, type DeliveryTotal } from "./checks.ts";
import type { Competitor } from "./competitors.ts";
import type { BenchContext } from "./context.ts";
import { sleep } from "./engine.ts";
import type { ClientProc } from "./ipc.ts";
import { drainDeliveries, maxCpu, sampleClients } from "./load.ts";
import { cpuNsBetween, cpuSample, mainThreadShare } from "./proc.ts";
import { fmt, latencyStats } from "./stats.ts";

export type IngestRound = {
	sent: number;
	cpuMs: number;
	usPerPosition: number;
	mainThreadShare: number;
	serverCpuPercent: number;
	clientCpuPercent: number;
	errors: Record<string, number>;
};
export type IngestAccepted = { sent: number; accepted: number; ratio: number };

/** Vendors send at `hz` each (nobody watching): after `warmMs`, `ctx.rounds` rounds; then stopped and positions accepted counted. */
export async function measureIngest(
	ctx: BenchContext,
	stage: string,
	server: Competitor,
	vendorsClient: ClientProc,
	hz: number,
	warmMs: number
): Promise<{ rounds: IngestRound[]; accepted: IngestAccepted }> {
	await vendorsClient.call("rate", { perVendorHz: hz });
	await sleep(warmMs);
	// The server's counters are read once around the phase (a scrape costs CPU and waits for a busy loop).
	const countersStart = await server.counters();
	await vendorsClient.call("sample");
	let cpu = cpuSample(server.pid);
	let sentTotal = 0;
	const rounds: IngestRound[] = [];
	for (let r = 0; r < ctx.rounds; r++) {
		await sleep(ctx.windowMs);
		const cpuNow = cpuSample(server.pid);
		const vs = await vendorsClient.call<VendorsSample>("sample");
		const cpuNs = cpuNsBetween(cpu, cpuNow);
		sentTotal += vs.sent;
		const round: IngestRound = {
			sent: vs.sent,
			cpuMs: cpuNs / 1e6,
			usPerPosition: cpuNs / 1000 / vs.sent,
			mainThreadShare: mainThreadShare(server.pid, cpu, cpuNow),
			serverCpuPercent: (cpuNs / 1e6 / vs.wallMs) * 100,
			clientCpuPercent: vs.cpuPercent,
			errors: vs.errors,
		};
		rounds.push(round);
		ctx.log(
			stage,
			`ingest round ${r + 1}/${ctx.rounds}: ${vs.sent} positions, ${fmt(round.usPerPosition)} µs CPU/position, server ${fmt(round.serverCpuPercent, 1)}% CPU (${fmt(round.mainThreadShare * 100, 0)}% on its main thread), client ${fmt(vs.cpuPercent, 1)}%`
		);
		cpu = cpuNow;
	}
	await vendorsClient.call("rate", { perVendorHz: 0 });
	await sleep(500);
	sentTotal += (await vendorsClient.call<VendorsSample>("sample")).sent;
	const accepted = (await server.counters()).positionsIn - countersStart.positionsIn;
	ctx.log(stage, `ingest: server accepted ${accepted} of ${sentTotal} positions sent (${fmt((accepted / sentTotal) * 100, 2)}%)`);
	if (accepted < sentTotal * SHORTFALL) ctx.note(`${stage}: the server accepted only ${accepted} of ${sentTotal} positions sent`);
	return { rounds, accepted: { sent: sentTotal, accepted, ratio: accepted / sentTotal } };
}

export type FanoutRound = {
	sent: number;
	delivered: number;
	expected: number;
	deliveredRatio: number;
	cpuMs: number;
	usPerDelivery: number;
	mainThreadShare: number;
	serverCpuPercent: number;
	clientCpuPercent: number;
	watcherCpuPercent: number[];
	latency: ReturnType<typeof latencyStats>;
};

/**
 * Vendors already sending, watchers subscribed, every position going to `fanOut` watchers: after
 * `warmMs`, `ctx.rounds` rounds; then the vendors stop and deliveries are totalled against what was sent.
 */
export async function measureFanout(
	ctx: BenchContext,
	stage: string,
	server: Competitor,
	vendorsClient: ClientProc,
	watchers: ClientProc[],
	fanOut: number,
	warmMs: number
): Promise<{ rounds: FanoutRound[]; delivery: DeliveryTotal }> {
	await sleep(warmMs);
	await sampleClients(vendorsClient, watchers, fanOut);
	let cpu = cpuSample(server.pid);
	const rounds: FanoutRound[] = [];
	for (let r = 0; r < ctx.rounds; r++) {
		await sleep(ctx.windowMs);
		const cpuNow = cpuSample(server.pid);
		const { vs, ws, delivered, expected } = await sampleClients(vendorsClient, watchers, fanOut);
		const cpuNs = cpuNsBetween(cpu, cpuNow);
		const lat = latencyStats(ws.flatMap(s => s.latenciesMs));
		const round: FanoutRound = {
			sent: vs.sent,
			delivered,
			expected,
			deliveredRatio: delivered / expected,
			cpuMs: cpuNs / 1e6,
			usPerDelivery: cpuNs / 1000 / delivered,
			mainThreadShare: mainThreadShare(server.pid, cpu, cpuNow),
			serverCpuPercent: (cpuNs / 1e6 / vs.wallMs) * 100,
			clientCpuPercent: Math.max(vs.cpuPercent, maxCpu(ws)),
			watcherCpuPercent: ws.map(s => s.cpuPercent),
			latency: lat,
		};
		rounds.push(round);
		ctx.log(
			stage,
			`fan-out round ${r + 1}/${ctx.rounds}: ${delivered}/${expected} delivered, ${fmt(round.usPerDelivery, 3)} µs CPU/delivery, server ${fmt(round.serverCpuPercent, 1)}% (${fmt(round.mainThreadShare * 100, 0)}% main thread), clients ≤${fmt(round.clientCpuPercent, 1)}%, latency p50 ${fmt(lat.p50)} p99 ${fmt(lat.p99)} max ${fmt(lat.max)} ms (${lat.n} samples)`
		);
		cpu = cpuNow;
	}
	const delivery = await drainDeliveries(vendorsClient, watchers, fanOut, rounds);
	ctx.log(stage, `delivered ${delivery.delivered} of ${delivery.expected} expected (${fmt(delivery.ratio * 100, 2)}%) over all rounds`);
	if (isShort(delivery)) ctx.note(`${stage}: only ${delivery.delivered} of ${delivery.expected} expected deliveries arrived`);
	return { rounds, delivery };
}
