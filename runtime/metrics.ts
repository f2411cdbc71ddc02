import { MetricReporters, type ServiceBroker } from "moleculer";

type Registry = ConstructorParameters<typeof MetricReporters.Base>[0] extends never ? never : any;

/**
 * Moleculer's Prometheus reporter without its own HTTP server: the gateways serve the
 * text at `/metrics` on their own ports, so every role is scraped where it listens.
 */
export class ScrapeReporter extends MetricReporters.Prometheus {
	override init(registry: Registry): void {
		MetricReporters.Base.prototype.init.call(this, registry);
		const labels = (this as any).opts.defaultLabels;
		(this as any).defaultLabels = typeof labels === "function" ? labels.call(this, registry) : labels;
	}

	override stop(): Promise<void> {
		return Promise.resolve();
	}
}

/** The Prometheus exposition text of this node's metrics. */
export function prometheusText(broker: ServiceBroker): string {
	const reporters = ((broker.metrics as any).reporter ?? []) as unknown[];
	const reporter = reporters.find((r): r is ScrapeReporter => r instanceof ScrapeReporter);
	return reporter ? reporter.generatePrometheusResponse() : "";
}
