import { STATUS_CODES } from "node:http";
import type { ServiceBroker } from "moleculer";
import type { HttpResponse, TemplatedApp } from "uWebSockets.js";
import { errorBody, unauthorized } from "../../lib/errors.ts";
import { checkReadiness } from "../../runtime/health.ts";
import { metricsAuthorized, prometheusText } from "../../runtime/metrics.ts";

/** A JSON answer on LIVE_PORT (corked: it may be written from a callback). */
export function sendJson(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	res.cork(() => {
		res.writeStatus(`${status} ${STATUS_CODES[status] ?? ""}`.trim());
		res.writeHeader("Content-Type", "application/json; charset=utf-8").writeHeader("Cache-Control", "no-store");
		for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
		res.end(JSON.stringify(body));
	});
}

/**
 * `/health/live`, `/health/ready` and `/metrics` on LIVE_PORT, so a live-only node can be probed
 * and scraped; `/metrics` asks for METRICS_TOKEN when one is set.
 */
export function serveHttp(app: TemplatedApp, broker: ServiceBroker, metricsToken: string | undefined, syncMetrics: () => void): void {
	app.get("/health/live", res => sendJson(res, 200, { status: "ok", nodeID: broker.nodeID }));
	app.get("/health/ready", res => {
		let aborted = false;
		res.onAborted(() => (aborted = true));
		void checkReadiness(broker).then(r => {
			if (!aborted) sendJson(res, r.ready ? 200 : 503, r);
		});
	});
	app.get("/metrics", (res, req) => {
		if (!metricsAuthorized(metricsToken, req.getHeader("authorization") || undefined)) {
			sendJson(res, 401, errorBody(unauthorized("A valid metrics token is required")), { "WWW-Authenticate": "Bearer" });
			return;
		}
		syncMetrics();
		const text = prometheusText(broker);
		res.cork(() => res.writeHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(text));
	});
	app.any("/*", res => sendJson(res, 404, { name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" }));
}
