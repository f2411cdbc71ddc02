/**
 * `node bench/live-ingest.ts [vendors] [seconds]` — how many vendor positions per second one
 * engine process (SERVICES default; geo in process, or on Redis with
 * INGEST_REDIS_URL=redis://127.0.0.1:6379) accepts over /live, and what it costs in CPU. Vendors send as fast as the socket takes frames; POSITION_MAX_HZ is raised
 * so the limiter does not cap the figure. The load generator runs in this process, so on a
 * small machine it competes with the server for CPU: read the result as a lower bound.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { Redis } from "ioredis";
import { mintDevToken } from "../lib/auth.ts";
import { freePort } from "./lib/engine.ts";

const vendors = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const SECRET = "bench-live-ingest-secret-0123456789abcdef";
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const cpuMs = (pid: number) => {
	const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
	return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
};

const [port, livePort] = [await freePort(), await freePort()];
const redisUrl = process.env.INGEST_REDIS_URL ?? "";
const namespace = `bench-ingest-${process.pid}`;
const server = spawn(process.execPath, ["server.ts"], {
	env: { ...process.env, PORT: String(port), LIVE_PORT: String(livePort), DATA_DIR: ":memory:", AUTH_DEV_SECRET: SECRET, POSITION_MAX_HZ: "100", LOG_LEVEL: "warn", NATS_URL: "", REDIS_URL: redisUrl, NAMESPACE: namespace },
	stdio: "inherit",
});
const base = `http://127.0.0.1:${port}`;
try {
	for (let i = 0; ; i++) {
		if (i > 300) throw new Error("engine did not start");
		const ok = await fetch(`${base}/api/discovery/heatmap?bbox=0,0,1,1`).then(r => r.status === 200, () => false);
		if (ok) break;
		await sleep(100);
	}
	const ids: { id: string; token: string }[] = [];
	for (let i = 0; i < vendors; i++) {
		const token = await mintDevToken(SECRET, `user_bench_${i}`);
		const headers = { "Content-Type": "application/json", Authorization: `Bearer ${token}` };
		const { id } = (await (await fetch(`${base}/api/vendors`, { method: "POST", headers, body: JSON.stringify({ name: `Bench ${i}` }) })).json()) as { id: string };
		await fetch(`${base}/api/vendors/${id}/status`, { method: "POST", headers, body: JSON.stringify({ status: "active" }) });
		ids.push({ id, token });
	}
	// One watcher over the whole area, so every accepted position is also fanned out once.
	const watcher = new WebSocket(`ws://127.0.0.1:${livePort}/live`);
	let delivered = 0;
	watcher.on("message", () => delivered++);
	await new Promise(r => watcher.once("open", r));
	watcher.send(JSON.stringify({ op: "watch", bbox: [13.3, 52.45, 13.5, 52.55] }));
	const sockets = await Promise.all(
		ids.map(({ id, token }) => new Promise<WebSocket>(resolve => {
			const ws = new WebSocket(`ws://127.0.0.1:${livePort}/live?token=${token}&vendor=${id}`);
			ws.once("open", () => resolve(ws));
		}))
	);
	const metric = async (name: string) => {
		const text = await (await fetch(`http://127.0.0.1:${livePort}/metrics`)).text();
		return Number(text.split("\n").find(l => l.startsWith(`${name}{`))?.split(" ").at(-1) ?? 0);
	};
	const in0 = await metric("venta_live_positions_in_total");
	const cpu0 = cpuMs(server.pid!);
	const t0 = Date.now();
	let sent = 0;
	// 100 Hz per vendor: each tick every vendor sends one position.
	while (Date.now() - t0 < seconds * 1000) {
		const tick = Date.now();
		for (let v = 0; v < sockets.length; v++) {
			const ws = sockets[v]!;
			if (ws.bufferedAmount > 64 * 1024) continue;
			ws.send(JSON.stringify({ op: "pos", lat: 52.45 + ((v * 7919) % 1000) / 10_000, lng: 13.3 + ((sent + v) % 2000) / 10_000, ts: tick }));
			sent++;
		}
		await sleep(Math.max(0, 10 - (Date.now() - tick)));
	}
	await sleep(500);
	const elapsed = (Date.now() - t0) / 1000;
	const accepted = (await metric("venta_live_positions_in_total")) - in0;
	const cpu = cpuMs(server.pid!) - cpu0;
	console.log(`${redisUrl ? "redis" : "embedded"} geo, vendors ${vendors}, ${elapsed.toFixed(1)} s: sent ${sent} (${Math.round(sent / elapsed)}/s), accepted ${accepted} (${Math.round(accepted / elapsed)}/s), ` +
		`watcher got ${delivered}, server CPU ${(cpu / 1000).toFixed(1)} s (${Math.round((100 * cpu) / (elapsed * 1000))}% of one core), ` +
		`${Math.round(accepted / (cpu / 1000))} positions per CPU-second`);
	for (const ws of sockets) ws.close();
	watcher.close();
} finally {
	server.kill("SIGTERM");
	if (redisUrl) {
		await new Promise(r => server.once("exit", r));
		const redis = new Redis(redisUrl);
		const keys = [...(await redis.keys(`${namespace}:geo:*`)), ...(await redis.keys(`${namespace}-cache*`))];
		if (keys.length) await redis.del(...keys);
		await redis.quit();
	}
}
