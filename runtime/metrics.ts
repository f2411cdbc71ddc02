import { createHash, timingSafeEqual } from "node:crypto";
import { bearerToken } from "../lib/auth.ts";
import { MetricReporters, type ServiceBroker } from "moleculer";

type MetricRegistry = ServiceBroker["metrics"];
/** What Moleculer's reporter keeps but its typings leave out. */
type Labels = Record<string, unknown>;
type ReporterInternals = { opts: { defaultLabels?: Labels | ((registry: MetricRegistry) => Labels) }; defaultLabels?: Labels };

/**
 * Moleculer's Prometheus reporter without its own HTTP server: the gateways serve the
 * text at `/metrics` on their own ports, so every role is scraped where it listens.
 */
export class ScrapeReporter extends MetricReporters.Prometheus {
	override init(registry: MetricRegistry): void {
		MetricReporters.Base.prototype.init.call(this, registry);
		const self = this as unknown as ReporterInternals;
		const labels = self.opts.defaultLabels;
		self.defaultLabels = typeof labels === "function" ? labels.call(this, registry) : labels;
	}

	override stop(): Promise<void> {
		return Promise.resolve();
	}
}

/** The Prometheus exposition text of this node's metrics. */
export function prometheusText(broker: ServiceBroker): string {
	const reporter = broker.metrics.reporter?.find((r): r is ScrapeReporter => r instanceof ScrapeReporter);
	return reporter ? reporter.generatePrometheusResponse() : "";
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/**
 * Whether a request may read `/metrics`: always when METRICS_TOKEN is unset, else only with
 * `Authorization: Bearer <METRICS_TOKEN>`. The digests are compared in constant time (equal
 * lengths, so timingSafeEqual applies and the token's length does not leak).
 */
export function metricsAuthorized(metricsToken: string | undefined, authorization: string | undefined): boolean {
	if (metricsToken === undefined) return true;
	const given = bearerToken(authorization);
	return given !== undefined && timingSafeEqual(sha256(given), sha256(metricsToken));
}
