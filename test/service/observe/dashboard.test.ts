import { Errors, type ServiceSchema } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { metricNames, panelQueries, parseExposition, ratedMetrics, readDashboard, variableMetrics } from "../../helpers/dashboard.ts";

const METRICS_TOKEN = "dashboard-test-metrics-token";
const HISTOGRAM_PARTS = /_(bucket|sum|count)$/;

/**
 * An action that fails with a server fault, with a breaker that trips after two calls and goes
 * half-open soon after: Moleculer exports the breaker's metrics only once a breaker has changed state.
 */
const FailingService: ServiceSchema = {
	name: "failing",
	actions: {
		fail: {
			circuitBreaker: { minRequestCount: 2, threshold: 0.5, halfOpenTime: 300 },
			handler() {
				throw new Errors.MoleculerError("Always fails", 500, "ALWAYS_FAILS");
			},
		},
	},
};

describe("the Grafana dashboard against a running engine", () => {
	let engine: TestEngine;
	/** The engine's /metrics on both ports, as Prometheus scrapes them (with the bearer token). */
	const scrape = async () => {
		const headers = { authorization: `Bearer ${METRICS_TOKEN}` };
		const texts = await Promise.all(
			[`${engine.baseUrl}/metrics`, `http://127.0.0.1:${engine.config.livePort}/metrics`].map(async url => {
				const res = await fetch(url, { headers });
				expect(res.status, url).toBe(200);
				return res.text();
			})
		);
		return parseExposition(texts.join("\n"));
	};

	beforeAll(async () => {
		engine = await startTestEngine({ METRICS_TOKEN }, [FailingService]);
		await waitFor(async () => (await fetch(`${engine.baseUrl}/health/ready`)).ok, { what: "REST routes" });
		// What the panels show must have happened once: REST calls (one failing), a webhook delivery, a tripped breaker.
		expect((await fetch(`${engine.baseUrl}/api/discovery/nearby?lat=52.52&lng=13.40`)).status).toBe(200);
		expect((await fetch(`${engine.baseUrl}/webhooks/clerk`, { method: "POST", body: "{}" })).status).toBe(503);
		for (let i = 0; i < 3; i++) await engine.broker.call("failing.fail").catch(() => undefined);
		await waitFor(async () => (await scrape()).samples.has("moleculer_circuit_breaker_half_opened_active"), {
			what: "a half-open breaker",
		});
	});
	afterAll(() => engine?.stop());

	it("queries only metrics the engine exports", async () => {
		const { samples } = await scrape();
		const queried = [...new Set([...panelQueries(readDashboard()).flatMap(metricNames), ...variableMetrics(readDashboard())])];
		expect(queried.length).toBeGreaterThan(15);
		const missing = queried.filter(name => !samples.has(name));
		expect(missing, "queried by the dashboard, absent from /metrics").toEqual([]);
	});

	it("takes rates of counters and histograms only, quantiles of real histograms, and shows gauges as they are", async () => {
		const { types } = await scrape();
		const typeOf = (name: string) =>
			types.get(name) ?? (HISTOGRAM_PARTS.test(name) ? `${types.get(name.replace(HISTOGRAM_PARTS, ""))} part` : undefined);
		for (const expr of panelQueries(readDashboard())) {
			const rated = ratedMetrics(expr);
			for (const name of rated) expect(["counter", "histogram part"], `${name} in ${expr}`).toContain(typeOf(name));
			for (const name of metricNames(expr).filter(n => !rated.includes(n))) expect(typeOf(name), `${name} in ${expr}`).toBe("gauge");
			if (expr.includes("histogram_quantile")) {
				expect(expr, "a quantile over the rate of buckets, summed by le").toMatch(
					/histogram_quantile\(0\.\d+, sum by \(le\b[^)]*\) \(rate\(\w+_bucket\{/
				);
				for (const name of rated) expect(name).toMatch(/_bucket$/);
			}
		}
	});
});
