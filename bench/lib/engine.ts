import { randomUUID } from "node:crypto";
import { mintDevToken } from "../../lib/auth.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { spawnScript, type Proc } from "./proc.ts";

export const BENCH_SECRET = `bench-${randomUUID()}-${randomUUID()}`;

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Polls until `GET url` answers 200; fails early when the process has exited. */
export async function waitForHttp(url: string, proc: Proc, timeoutMs = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let exited: number | string | null = null;
	void proc.exited.then(code => (exited = code));
	let last = "";
	while (Date.now() < deadline) {
		if (exited !== null) throw new Error(`${proc.name} exited (${exited}) while starting:\n${proc.tail()}`);
		try {
			const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
			if (res.status === 200) return;
			last = `status ${res.status}`;
		} catch (err) {
			last = (err as Error).message;
		}
		await sleep(100);
	}
	throw new Error(`${proc.name}: ${url} not ready after ${timeoutMs} ms (${last})\n${proc.tail()}`);
}

export type EngineNode = { proc: Proc; name: string; port: number; livePort: number; baseUrl: string; liveUrl: string; services: string };

/** The real engine (`server.ts`, what `npm start` runs) as a child process; `readyTimeoutMs`: how long its start may take. */
export async function startEngine(
	name: string,
	env: Record<string, string>,
	nodeArgs: string[] = [],
	readyTimeoutMs = 30_000
): Promise<EngineNode> {
	const port = await freePort();
	const livePort = await freePort();
	const services = env.SERVICES ?? "";
	const proc = spawnScript(
		name,
		"server.ts",
		[],
		{
			PORT: String(port),
			LIVE_PORT: String(livePort),
			DATA_DIR: ":memory:",
			AUTH_DEV_SECRET: BENCH_SECRET,
			LOG_LEVEL: "warn",
			POSITION_MAX_HZ: "20",
			// The load comes from a few local addresses: per-address and per-caller limits would cut it.
			LIVE_MAX_SOCKETS_PER_IP: "1000000",
			RATE_LIMIT_READS_PER_MIN: "1000000",
			RATE_LIMIT_WRITES_PER_MIN: "1000000",
			...env,
		},
		nodeArgs
	);
	const runs = (role: string) => services === "" || services.split(",").includes(role);
	const hasApi = runs("api");
	if (runs("live")) await waitForHttp(`http://127.0.0.1:${livePort}/health/ready`, proc, readyTimeoutMs);
	if (hasApi) {
		await waitForHttp(`http://127.0.0.1:${port}/health/ready`, proc, readyTimeoutMs);
		// /health/ready can answer before moleculer-web has built the /api aliases (404 until then).
		await waitForHttp(`http://127.0.0.1:${port}/api/vendors`, proc, readyTimeoutMs);
	}
	return { proc, name, port, livePort, baseUrl: `http://127.0.0.1:${port}`, liveUrl: `ws://127.0.0.1:${livePort}/live`, services };
}

async function rest<T>(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
	const res = await fetch(`${baseUrl}${path}`, {
		method,
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
		signal: AbortSignal.timeout(15_000),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
	return JSON.parse(text) as T;
}

/** Onboards vendors the way users do: POST /api/vendors, then POST /api/vendors/:id/status active. */
export async function onboardVendors(
	baseUrl: string,
	count: number,
	prefix: string,
	onProgress: (done: number) => void
): Promise<{ id: string; token: string }[]> {
	const out: { id: string; token: string }[] = new Array(count);
	let next = 0;
	let done = 0;
	const worker = async () => {
		while (next < count) {
			const i = next++;
			const token = await mintDevToken(BENCH_SECRET, `user_${prefix}_${i}`, 6 * 3600);
			const vendor = await rest<{ id: string }>(baseUrl, token, "POST", "/api/vendors", {
				name: `Bench vendor ${i}`,
				categories: ["coffee"],
			});
			await rest(baseUrl, token, "POST", `/api/vendors/${encodeURIComponent(vendor.id)}/status`, { status: "active" });
			out[i] = { id: vendor.id, token };
			if (++done % 200 === 0) onProgress(done);
		}
	};
	await Promise.all(Array.from({ length: Math.min(16, count) }, worker));
	return out;
}

export type LiveCounters = { positionsIn: number; positionsDropped: number; routedIn: number; deliveries: number; sockets: number };

/** This node's live counters from `GET /metrics` on LIVE_PORT (Prometheus text). */
export async function liveCounters(node: EngineNode): Promise<LiveCounters> {
	const text = await (await fetch(`http://127.0.0.1:${node.livePort}/metrics`)).text();
	const read = (name: string) => {
		const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
		return m ? Number(m[1]) : 0;
	};
	return {
		positionsIn: read("venta_live_positions_in_total"),
		positionsDropped: read("venta_live_positions_dropped_total"),
		routedIn: read("venta_live_routed_in_total"),
		deliveries: read("venta_live_deliveries_total"),
		sockets: read("venta_live_sockets"),
	};
}
