import type { ServiceBroker } from "moleculer";

/**
 * Readiness asks every local service that implements one of these: `checkStore` (a service
 * that owns a store: does it answer?) or `checkReady` (anything else it must have before
 * taking traffic, e.g. the gateway's routes). Either rejects with the reason.
 */
export type StoreCheck = { checkStore(): Promise<void> };
export type ReadyCheck = { checkReady(): Promise<void> };

export type Readiness = { ready: boolean; nodeID: string; checks: Record<string, string> };

/**
 * Checks reported but not counted against readiness: the cacher fails soft (a Redis fault is a
 * cache miss), so a cache outage must not take every node out of its load balancer.
 */
const ADVISORY_CHECKS = new Set(["cacher"]);

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A transporter client that can prove it reaches its server (NATS: a PING answered by a PONG). */
type FlushableClient = { flush?: () => Promise<void>; isClosed?: () => boolean };

/**
 * Whether the mesh answers now. Moleculer's own `connected` flag stays true while NATS is down,
 * so the NATS client is asked for a round trip.
 */
async function transporterState(broker: ServiceBroker): Promise<string> {
	const transit = broker.transit;
	if (!transit?.connected) return "disconnected";
	const client = (transit.tx as unknown as { client?: FlushableClient }).client;
	if (!client?.flush) return "ok";
	if (client.isClosed?.()) return "disconnected";
	return withTimeout(client.flush(), CHECK_TIMEOUT_MS).then(
		() => "ok",
		() => "disconnected"
	);
}

/** Ready = the broker has started, its transporter answers, and every local store answers (the cacher is only reported). */
export async function checkReadiness(broker: ServiceBroker): Promise<Readiness> {
	const checks: Record<string, string> = {};
	checks.broker = broker.started ? "ok" : "starting";
	if (broker.transit) checks.transporter = await transporterState(broker);
	const cacher = broker.cacher as unknown as { client?: { ping?: () => Promise<unknown> } } | null;
	if (cacher?.client?.ping) {
		checks.cacher = await withTimeout(cacher.client.ping(), CHECK_TIMEOUT_MS).then(
			() => "ok",
			(err: Error) => err.message
		);
	}
	await Promise.all(
		broker.services.map(async service => {
			const candidate = service as unknown as Partial<StoreCheck & ReadyCheck>;
			const check = candidate.checkStore ?? candidate.checkReady;
			if (typeof check !== "function") return;
			checks[service.fullName] = await withTimeout(check.call(service), CHECK_TIMEOUT_MS).then(
				() => "ok",
				(err: Error) => err.message || "unavailable"
			);
		})
	);
	const ready = Object.entries(checks).every(([name, state]) => state === "ok" || ADVISORY_CHECKS.has(name));
	return { ready, nodeID: broker.nodeID, checks };
}
