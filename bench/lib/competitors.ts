/** The servers under test: the real engine or a competitor of bench/servers/, each its own process. */
import { randomUUID } from "node:crypto";
import { freePort } from "../../test/helpers/ports.ts";
import type { BenchVendor } from "../clients/vendors.ts";
import type { BenchContext } from "./context.ts";
import { liveCounters, onboardVendors, startEngine, waitForHttp, type EngineNode } from "./engine.ts";
import { spawnScript } from "./proc.ts";

export type CompetitorKey = "engine" | "ws" | "uws";
export const COMPETITOR_KEYS: readonly CompetitorKey[] = ["engine", "ws", "uws"];

/** Who a vendor socket signs in as: an onboarded vendor and its owner's token on the engine, a bare id elsewhere. */
export type VendorIdentity = { id: string; token?: string };

/** A server under test, with its pid (for /proc) and its counters. */
export type Competitor = {
	key: CompetitorKey;
	label: string;
	pid: number;
	liveUrl: string;
	counters(): Promise<{ positionsIn: number; deliveries: number }>;
	/** As many vendors as asked for when starting; a scenario gives them their positions. */
	identities: VendorIdentity[];
	stop(): Promise<void>;
	engine?: EngineNode;
};

/**
 * Starts one server with `vendors` identities ready. The engine onboards them over REST the way
 * users do; `env` adds engine settings (e.g. LIVE_FLUSH_MS) on top of bench/lib/engine.ts's.
 */
export async function startCompetitor(
	ctx: BenchContext,
	stage: string,
	key: CompetitorKey,
	opts: { vendors: number; env?: Record<string, string> }
): Promise<Competitor> {
	if (key === "engine") {
		const engine = await startEngine(stage, opts.env ?? {}, ctx.profile ? ["--cpu-prof", "--cpu-prof-dir=bench/profiles"] : []);
		ctx.log(stage, `engine up (pid ${engine.proc.pid}); onboarding ${opts.vendors} vendors over REST`);
		const onboarded = await onboardVendors(engine.baseUrl, opts.vendors, `bench${randomUUID().slice(0, 6)}`, done =>
			ctx.log(stage, `onboarded ${done}`)
		);
		return {
			key,
			label: "Venta engine",
			pid: engine.proc.pid,
			liveUrl: engine.liveUrl,
			counters: () => liveCounters(engine),
			identities: onboarded,
			stop: () => engine.proc.stop(20_000),
			engine,
		};
	}
	const port = await freePort();
	const proc = spawnScript(key === "ws" ? "ws-baseline" : "uws-bare", "bench/servers/serve.ts", [key, String(port)], {});
	await waitForHttp(`http://127.0.0.1:${port}/stats`, proc);
	return {
		key,
		label: key === "ws" ? "ws baseline" : "bare uWS",
		pid: proc.pid,
		liveUrl: `ws://127.0.0.1:${port}/live`,
		counters: async () => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { positionsIn: number; deliveries: number },
		identities: Array.from({ length: opts.vendors }, (_, i) => ({ id: `v${i}` })),
		stop: () => proc.stop(),
	};
}

/** The identities from `offset` on, each at its point. */
export function placeVendors(identities: VendorIdentity[], points: readonly { lat: number; lng: number }[], offset = 0): BenchVendor[] {
	if (offset + points.length > identities.length)
		throw new Error(`${points.length} vendors from ${offset} asked, ${identities.length} onboarded`);
	return points.map((p, i) => ({ ...identities[offset + i]!, lat: p.lat, lng: p.lng }));
}
