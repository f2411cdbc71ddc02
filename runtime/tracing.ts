import { createHash } from "node:crypto";
import { type BrokerOptions, type ServiceBroker, type Span, TracerExporters } from "moleculer";
import type { Config } from "../config/index.ts";

/**
 * The Zipkin trace id of a request id. Request ids the engine makes are UUIDs: the trace id is the
 * UUID without its hyphens (a 128-bit Zipkin id), so a log line's `requestId` finds its trace. Any
 * other id a caller sent in X-Request-ID is not hex: its trace id is derived from it (SHA-256),
 * and every span still carries it in the `requestID` tag.
 */
export function zipkinTraceId(requestId: string): string {
	const hex = requestId.replaceAll("-", "").toLowerCase();
	if (/^([0-9a-f]{16}|[0-9a-f]{32})$/.test(hex)) return hex;
	return createHash("sha256").update(requestId).digest("hex").slice(0, 32);
}

/**
 * Moleculer's Zipkin v2 exporter, keeping the whole request id as the trace id: Moleculer's own
 * cuts every id to its first 16 hex digits, which would leave a trace id no log line shows.
 */
export class ZipkinExporter extends TracerExporters.Zipkin {
	override makePayload(span: Span): Record<string, unknown> {
		const payload = super.makePayload(span);
		payload.traceId = zipkinTraceId(span.traceID);
		return payload;
	}
}

/** Seconds between two batches of spans posted to the Zipkin endpoint. */
export const ZIPKIN_INTERVAL_S = 2;

/** The broker's `tracing` options: off (no tracer middleware, no spans), or every action and event traced. */
export function tracingOptions({ tracing, logPretty }: Pick<Config, "tracing" | "logPretty">): BrokerOptions["tracing"] {
	if (tracing.exporter === "off") return { enabled: false };
	const exporter =
		tracing.exporter === "console"
			? { type: "Console" as const, options: { colors: logPretty } }
			: // Moleculer takes an exporter instance at run time; its typings name only the built-in kinds.
				(new ZipkinExporter({ baseURL: tracing.endpoint, interval: ZIPKIN_INTERVAL_S }) as unknown as "Zipkin");
	return {
		enabled: true,
		events: true,
		exporter,
		sampling: { rate: tracing.sampleRate },
		// Params hold token claims, positions and bodies: spans carry names, ids, nodes and timings only.
		tags: { action: { params: false }, event: { params: false } },
		defaultTags: tracer => ({ nodeID: tracer.broker.nodeID }),
	};
}

/**
 * Runs `work` in a span of its own (a new trace) when tracing is on; `work` passes the span to the
 * calls it makes (`{ parentSpan: span }`) so that their spans join it, on whichever node they run.
 * With tracing off `work` runs as it is, with `undefined`: no span, nothing allocated for it.
 */
export async function inSpan<T>(
	broker: ServiceBroker,
	name: string,
	service: string,
	work: (span: Span | undefined) => Promise<T>
): Promise<T> {
	if (!broker.isTracingEnabled()) return work(undefined);
	const span = broker.tracer.startSpan(name, { service });
	try {
		return await work(span);
	} catch (err) {
		span.setError(err as Error);
		throw err;
	} finally {
		span.finish();
	}
}
