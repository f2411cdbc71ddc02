import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { VentaService, VentaServiceSchema } from "../../config/settings.ts";
import { errorBody, notFound, unauthorized } from "../../lib/errors.ts";
import { checkReadiness } from "../../runtime/health.ts";
import { metricsAuthorized, prometheusText } from "../../runtime/metrics.ts";

/** Probes are tiny: a request must arrive whole within this. */
const REQUEST_TIMEOUT_MS = 5_000;

type HealthMethods = { checkReady(): Promise<void>; stopAccepting(): void };
type HealthVars = { server: Server; draining: boolean };
type HealthThis = VentaService<object, HealthMethods, HealthVars>;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...headers });
	res.end(JSON.stringify(body));
}

/** The three routes of the health server; anything else is the one 404 body. */
async function answer(service: HealthThis, req: IncomingMessage, res: ServerResponse): Promise<void> {
	const path = req.method === "GET" ? new URL(req.url ?? "/", "http://probe").pathname : undefined;
	const { broker } = service;
	if (path === "/health/live") return sendJson(res, 200, { status: "ok", nodeID: broker.nodeID });
	if (path === "/health/ready") {
		const readiness = await checkReadiness(broker);
		return sendJson(res, readiness.ready ? 200 : 503, readiness);
	}
	if (path === "/metrics") {
		if (!metricsAuthorized(service.settings.config.metricsToken, req.headers.authorization))
			return sendJson(res, 401, errorBody(unauthorized("A valid metrics token is required")), { "WWW-Authenticate": "Bearer" });
		res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
		return void res.end(prometheusText(broker));
	}
	sendJson(res, 404, errorBody(notFound("Not found")));
}

/**
 * `/health/live`, `/health/ready` and `/metrics` on HOST:PORT for a node that runs neither gateway
 * (e.g. geo or webhooks alone), which would otherwise have no HTTP to be probed or scraped on.
 * runtime/engine.ts adds it to such nodes; the `$` keeps it out of listings that skip internal
 * services, like `$node`.
 */
const HealthService: VentaServiceSchema<object, HealthMethods, HealthVars> = {
	name: "$health",

	methods: {
		/** Readiness (runtime/health.ts): not once shutdown has begun. */
		async checkReady() {
			if (this.draining) throw new Error("draining");
		},

		/** Shutdown begins: probes see this node go away at once, as the gateways' do. */
		stopAccepting() {
			this.draining = true;
			if (this.server.listening) this.server.close();
			this.server.closeIdleConnections();
		},
	},

	created() {
		this.draining = false;
		this.server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, (req, res) =>
			answer(this, req, res).catch(err => {
				if (!res.headersSent) sendJson(res, 500, errorBody(err));
			})
		);
	},

	started() {
		const { host, port } = this.settings.config;
		return new Promise<void>((resolve, reject) => {
			const refuse = (err: Error) => reject(new Error(`PORT ${port} is not available on ${host} (${err.message})`));
			this.server.once("error", refuse);
			this.server.listen(port, host, () => {
				this.server.off("error", refuse);
				resolve();
			});
		});
	},

	stopped() {
		return new Promise<void>(resolve => {
			if (this.server.listening) this.server.close(() => resolve());
			else resolve();
			this.server.closeAllConnections();
		});
	},
};

export default HealthService;
