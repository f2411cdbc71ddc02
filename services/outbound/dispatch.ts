import type { Logger, ServiceBroker } from "moleculer";
import { OUTBOUND_METRICS, type AttemptOutcome } from "./contract.ts";
import type { DeliveryDoc, DeliveryLog } from "./deliveries.ts";
import type { EndpointStore } from "./endpoints.ts";
import { sendSigned } from "./sender.ts";

/** What a queue hands the dispatcher: one delivery (from the outbox record or a JetStream message). */
export type Work = Pick<DeliveryDoc, "_id" | "endpointId" | "event" | "eventId" | "eventAt" | "body">;

/** What the queue does next: ack (`done`), redeliver after `retryInMs`, or dead-letter. */
export type Next = { kind: "done" } | { kind: "retry"; retryInMs: number } | { kind: "dead"; error: string };

type Metrics = ServiceBroker["metrics"];
export type DispatcherDeps = {
	log: DeliveryLog;
	endpoints: EndpointStore;
	scheduleS: number[];
	timeoutMs: number;
	metrics: Metrics;
	logger: Logger;
};

/** Seconds from an event to its delivery: healthy receivers land in the first buckets. */
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600, 14_400];

/** The request id that caused the event (its `meta.correlationId`), for the log lines of its deliveries. */
function correlationOf(work: Work): string | null {
	try {
		return (JSON.parse(work.body) as { meta?: { correlationId?: string | null } }).meta?.correlationId ?? null;
	} catch {
		return null;
	}
}

export function registerOutboundMetrics(metrics: Metrics): void {
	if (metrics.getMetric(OUTBOUND_METRICS.deliveries)) return;
	metrics.register({
		type: "counter",
		name: OUTBOUND_METRICS.deliveries,
		labelNames: ["endpoint", "outcome"],
		description: "Outbound webhook attempts by endpoint and outcome (ok, retried, dead)",
	});
	metrics.register({
		type: "histogram",
		name: OUTBOUND_METRICS.lag,
		labelNames: ["endpoint"],
		buckets: LAG_BUCKETS,
		description: "Seconds from a domain event to its successful webhook delivery",
	});
}

/**
 * One attempt of one delivery, the same in both modes: sign and send, record the outcome, count
 * it, and say what comes next by the retry schedule (attempt n failed → retry after schedule[n-1]
 * seconds; after the last, dead).
 */
export class Dispatcher {
	readonly #deps: DispatcherDeps;

	constructor(deps: DispatcherDeps) {
		this.#deps = deps;
	}

	/** `attempt` counts from 1 within the current round (a replay starts a new round). */
	async attempt(work: Work, attempt: number): Promise<Next> {
		const { log, endpoints, timeoutMs } = this.#deps;
		const record = await log.get(work._id);
		// Delivered already (a redelivery after a crash between the 2xx and the ack): nothing to send.
		if (record?.status === "delivered") return { kind: "done" };
		const endpoint = await endpoints.get(work.endpointId);
		if (!endpoint?.enabled) return this.#fail(work, attempt, null, `endpoint ${endpoint ? "disabled" : "removed"}`, true);
		const sent = await sendSigned({ url: endpoint.url, secret: endpoint.secret, id: work._id, body: work.body }, timeoutMs);
		if (!sent.ok) return this.#fail(work, attempt, sent.status, sent.error ?? "failed", false);
		await log.delivered(work._id, attempt);
		this.#count(work.endpointId, "ok");
		const lagS = (Date.now() - Date.parse(work.eventAt)) / 1000;
		if (Number.isFinite(lagS)) this.#deps.metrics.observe(OUTBOUND_METRICS.lag, Math.max(0, lagS), { endpoint: work.endpointId });
		return { kind: "done" };
	}

	async #fail(work: Work, attempt: number, status: number | null, error: string, final: boolean): Promise<Next> {
		const { log, scheduleS, logger } = this.#deps;
		const delayS = final ? undefined : scheduleS[attempt - 1];
		const retryInMs = delayS === undefined ? null : delayS * 1000;
		await log.failed(work._id, attempt, { status, error }, retryInMs);
		this.#count(work.endpointId, retryInMs === null ? "dead" : "retried");
		logger.warn(
			{
				requestId: correlationOf(work),
				delivery: work._id,
				endpoint: work.endpointId,
				event: work.event,
				attempt,
				status,
				error,
				retryInS: delayS ?? null,
			},
			retryInMs === null ? "Outbound webhook dead-lettered" : "Outbound webhook attempt failed; retrying"
		);
		return retryInMs === null ? { kind: "dead", error } : { kind: "retry", retryInMs };
	}

	#count(endpoint: string, outcome: AttemptOutcome): void {
		this.#deps.metrics.increment(OUTBOUND_METRICS.deliveries, { endpoint, outcome });
	}
}
