// The image's HEALTHCHECK (and compose's): exits 0 only when this container's node answers 200
// on /health/ready. Every role has one: the REST gateway on PORT, else the live gateway on
// LIVE_PORT, else the health server on PORT (gateways/health/health.service.ts).
import { loadConfig } from "../config/index.ts";

/** Docker gives a check 3 s; answer before that. */
const TIMEOUT_MS = 2_500;

const config = loadConfig();
const port = config.services.includes("live") && !config.services.includes("api") ? config.livePort : config.port;
// A wildcard bind is reached on loopback; an IPv6 address needs brackets in a URL.
const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;

try {
	const res = await fetch(`http://${host}:${port}/health/ready`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
	process.stdout.write(`${res.status} ${await res.text()}\n`);
	process.exit(res.status === 200 ? 0 : 1);
} catch (err) {
	process.stdout.write(`${(err as Error).message}\n`);
	process.exit(1);
}
