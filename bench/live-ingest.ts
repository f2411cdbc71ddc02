/**
 * `node bench/live-ingest.ts [vendors] [seconds]` — how many vendor positions per second one
 * engine process (SERVICES default; geo in process, or on Redis with
 * INGEST_REDIS_URL=redis://127.0.0.1:6379) accepts over /live, and what it costs in CPU. Vendors send as fast as the socket takes frames; POSITION_MAX_HZ is raised
 * so the limiter does not cap the figure. The load generator runs in this process, so on a
 * small machine it competes with the server for CPU: read the result as a lower bound.
 */
import WebSocket from "ws";
import { Redis } from "ioredis";
import { liveCounters, onboardVendors, sleep, startEngine } from "./lib/engine.ts";
import { cpuNsBetween, cpuSample, killAllChildren } from "./lib/proc.ts";

const vendors = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);

const redisUrl = process.env.INGEST_REDIS_URL ?? "";
const namespace = `bench-ingest-${process.pid}`;
// An engine that fails to start is not left behind.
process.on("exit", killAllChildren);
const engine = await startEngine("live-ingest", { POSITION_MAX_HZ: "100", NATS_URL: "", REDIS_URL: redisUrl, NAMESPACE: namespace });
const { livePort } = engine;
try {
	const ids = await onboardVendors(engine.baseUrl, vendors, `bench${process.pid}`, () => {});
	// One watcher over the whole area, so every accepted position is also fanned out once.
	const watcher = new WebSocket(`ws://127.0.0.1:${livePort}/live`);
	let delivered = 0;
	watcher.on("message", () => delivered++);
	await new Promise(r => watcher.once("open", r));
	watcher.send(JSON.stringify({ op: "watch", bbox: [13.3, 52.45, 13.5, 52.55] }));
	const sockets = await Promise.all(
		ids.map(
			({ id, token }) =>
				new Promise<WebSocket>(resolve => {
					const ws = new WebSocket(`ws://127.0.0.1:${livePort}/live?token=${token}&vendor=${id}`);
					ws.once("open", () => resolve(ws));
				})
		)
	);
	const in0 = (await liveCounters(engine)).positionsIn;
	const cpu0 = cpuSample(engine.proc.pid);
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
	const accepted = (await liveCounters(engine)).positionsIn - in0;
	const cpu = cpuNsBetween(cpu0, cpuSample(engine.proc.pid)) / 1e6;
	console.log(
		`${redisUrl ? "redis" : "embedded"} geo, vendors ${vendors}, ${elapsed.toFixed(1)} s: sent ${sent} (${Math.round(sent / elapsed)}/s), accepted ${accepted} (${Math.round(accepted / elapsed)}/s), ` +
			`watcher got ${delivered}, server CPU ${(cpu / 1000).toFixed(1)} s (${Math.round((100 * cpu) / (elapsed * 1000))}% of one core), ` +
			`${Math.round(accepted / (cpu / 1000))} positions per CPU-second`
	);
	for (const ws of sockets) ws.close();
	watcher.close();
} finally {
	await engine.proc.stop();
	if (redisUrl) {
		const redis = new Redis(redisUrl);
		const keys = [...(await redis.keys(`${namespace}:geo:*`)), ...(await redis.keys(`${namespace}-cache*`))];
		if (keys.length) await redis.del(...keys);
		await redis.quit();
	}
}
