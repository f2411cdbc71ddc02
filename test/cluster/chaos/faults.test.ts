import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { BackgroundLoad, SteadyVendor, TimingWatcher } from "../../helpers/control.ts";
import { testEnv, TEST_DEV_SECRET, uniqueNamespace, waitFor } from "../../helpers/engine.ts";
import { activeVendor, LiveClient } from "../../helpers/live.ts";
import { spawnNode, waitForHttp, type NodeProcess } from "../../helpers/process.ts";
import { startOwnNats, startOwnRedis, type OwnServer } from "../../helpers/servers.ts";
import { mintDevToken } from "../../../lib/auth.ts";

const A = { lat: 52.52, lng: 13.405 };
const cellA = latLngToCell(A.lat, A.lng, 8);
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The longest a local watcher may go without a position during a fault (the vendor sends every 200 ms). */
const LOCAL_GAP_MS = 1_000;

/**
 * Faults under a steady stream, on servers the test owns: a geo replica killed, NATS stopped for
 * 5 s, Redis stopped. Under everyday load (50 vendors at 1 Hz, 100 watchers, over both live
 * nodes), a control vendor on node A sends every 200 ms; a watcher on A (local) and one on B
 * (across NATS) record when each of its positions arrives.
 */
describe("faults: the stream goes on while parts of the cluster fail", () => {
	let nats: OwnServer;
	let redis: OwnServer;
	const nodes: Record<string, NodeProcess> = {};
	let restA: string;
	let liveA: string;
	let vendorId: string;
	let vendor: SteadyVendor;
	let local: TimingWatcher;
	let remote: TimingWatcher;
	let load: BackgroundLoad;
	let owner: string;
	let restVendorId: string;

	/** The stored position of the control vendor (through REST on A), or null while geo cannot answer. */
	const storedTs = async () => {
		const res = await fetch(`${restA}/api/vendors/${vendorId}/location`, { signal: AbortSignal.timeout(3_000) }).catch(() => null);
		if (res?.status !== 200) return null;
		return ((await res.json()) as { ts?: number }).ts ?? null;
	};

	/** Startup, with each node's last output when it fails, so a red run says which node stalled. */
	beforeAll(async () => {
		try {
			await startCluster();
		} catch (err) {
			for (const [name, n] of Object.entries(nodes)) console.error(`--- node ${name}\n${n.output().slice(-2_000)}`);
			throw err;
		}
	}, 120_000);

	const startCluster = async () => {
		[nats, redis] = await Promise.all([startOwnNats(), startOwnRedis()]);
		const namespace = uniqueNamespace("faults");
		const common = { NATS_URL: nats.url, REDIS_URL: redis.url, NAMESPACE: namespace, LOG_LEVEL: "warn" };
		const start = async (name: string, services: string) => {
			const env = await testEnv({ ...common, NODE_ID: `${namespace}-${name}`, SERVICES: services });
			nodes[name] = spawnNode("server.ts", env);
			return { rest: `http://127.0.0.1:${env.PORT}`, live: `ws://127.0.0.1:${env.LIVE_PORT}/live`, livePort: env.LIVE_PORT };
		};
		const a = await start("a", "api,users,vendors,discovery,live");
		const b = await start("b", "live");
		await start("geo1", "geo");
		await start("geo2", "geo");
		restA = a.rest;
		liveA = a.live;
		await waitForHttp(`${a.rest}/health/ready`, 30_000);
		await waitForHttp(`http://127.0.0.1:${b.livePort}/health/ready`, 30_000);
		await waitFor(async () => (await fetch(`${restA}/api/vendors`)).status === 200, { timeout: 20_000, what: "REST routes on A" });
		owner = await mintDevToken(TEST_DEV_SECRET, "user_faults_owner");
		vendorId = await activeVendor(restA, owner, "Fault Cart");
		restVendorId = await activeVendor(restA, owner, "REST Cart");
		local = new TimingWatcher(a.live, cellA, vendorId);
		remote = new TimingWatcher(b.live, cellA, vendorId);
		await Promise.all([local.start(), remote.start()]);
		vendor = new SteadyVendor(`${a.live}?token=${owner}&vendor=${vendorId}`, A, 200);
		await vendor.start();
		await waitFor(() => local.arrivals.length >= 5 && remote.arrivals.length >= 5, { timeout: 15_000, what: "both watchers streaming" });
		await waitFor(async () => ((await storedTs()) ?? 0) > 0, { timeout: 15_000, what: "positions stored" });
		load = await BackgroundLoad.start(restA, [a.live, b.live], owner, A);
		await waitFor(() => load.received > 100, { timeout: 15_000, what: "the background load streaming" });
	};

	afterAll(async () => {
		console.log(`faults: background watchers received ${load?.received} frames over the run`);
		load?.stop();
		vendor?.stop();
		local?.stop();
		remote?.stop();
		await Promise.all(Object.values(nodes).map(n => n.kill("SIGKILL")));
		await Promise.all([nats?.stop(), redis?.stop()]);
	});

	/** A customer asking what is nearby (geo answers it, on another node): status, error type, time taken. */
	const askNearby = async () => {
		const asked = Date.now();
		const res = await fetch(`${restA}/api/discovery/nearby?lat=${A.lat}&lng=${A.lng}&radius=500`);
		const body = (await res.json()) as { type?: string };
		return { status: res.status, type: body.type, tookMs: Date.now() - asked };
	};

	/** A phone posting its position over REST once a second for `ms`: each answer's status and time. */
	const postOncePerSecond = async (ms: number) => {
		const answers: { status: number; tookMs: number }[] = [];
		for (const end = Date.now() + ms; Date.now() < end; await sleep(1_000)) {
			const asked = Date.now();
			const res = await fetch(`${restA}/api/vendors/${restVendorId}/location`, {
				method: "POST",
				headers: { "Content-Type": "application/json", Authorization: `Bearer ${owner}` },
				body: JSON.stringify({ lat: A.lat, lng: A.lng + 0.002, ts: asked }),
			});
			answers.push({ status: res.status, tookMs: Date.now() - asked });
		}
		return answers;
	};

	it("kill -9 of one geo replica: no gap for watchers, REST positions answered 200 fast, and the other replica stores what follows", async () => {
		const killedAt = Date.now();
		await nodes.geo1!.kill("SIGKILL");
		const posted = await postOncePerSecond(6_000);
		const now = Date.now();
		const gaps = { local: local.maxGap(killedAt, now), remote: remote.maxGap(killedAt, now) };
		const lastSent = vendor.sent.at(-1)!;
		await waitFor(async () => ((await storedTs()) ?? 0) >= lastSent, {
			timeout: 10_000,
			what: "the surviving geo to store the latest position",
		});
		const slowestPost = Math.max(...posted.map(p => p.tookMs));
		console.log(
			`faults geo kill: max gap local ${gaps.local} ms, across NATS ${gaps.remote} ms; REST posts ${posted.map(p => p.status).join(",")} (slowest ${slowestPost} ms); latest position stored by geo2`
		);
		expect(posted.map(p => p.status)).toEqual(posted.map(() => 200));
		expect(slowestPost).toBeLessThan(3_000);
		expect(gaps.local).toBeLessThanOrEqual(LOCAL_GAP_MS);
		expect(gaps.remote).toBeLessThanOrEqual(LOCAL_GAP_MS);
	}, 40_000);

	it("NATS stopped for 5 s: local watchers see no gap, readiness says so, cross-node delivery resumes within 2 s, nothing accepted is lost", async () => {
		const stoppedAt = Date.now();
		await nats.stop();
		const readyDuring = await waitFor(async () => ((await fetch(`${restA}/health/ready`)).status === 503 ? 503 : undefined), {
			timeout: 5_000,
			what: "readiness 503",
		});
		const nearby = await askNearby();
		const sentBeforeReturn = await sleep(5_000 - (Date.now() - stoppedAt)).then(() => vendor.sent.at(-1)!);
		const backAt = Date.now();
		await nats.start();
		await waitFor(() => remote.firstAfter(backAt), { timeout: 10_000, what: "cross-node delivery after NATS returns" });
		const resumedMs = remote.firstAfter(backAt)!.at - backAt;
		await waitFor(async () => (await fetch(`${restA}/health/ready`)).status === 200, { timeout: 15_000, what: "readiness back to 200" });
		await waitFor(async () => ((await storedTs()) ?? 0) >= sentBeforeReturn, { timeout: 15_000, what: "positions of the outage stored" });
		const localGap = local.maxGap(stoppedAt, Date.now());
		console.log(
			`faults NATS stop 5 s: readiness ${readyDuring} during; nearby ${nearby.status} ${nearby.type} in ${nearby.tookMs} ms; local max gap ${localGap} ms; cross-node resumed ${resumedMs} ms after NATS returned; outage positions stored`
		);
		expect(nearby).toMatchObject({ status: 503, type: "SERVICE_UNAVAILABLE" });
		expect(nearby.tookMs).toBeLessThan(2_000);
		expect(localGap).toBeLessThanOrEqual(LOCAL_GAP_MS);
		expect(resumedMs).toBeLessThanOrEqual(2_000);
	}, 60_000);

	it("Redis stopped: the stream goes on, discovery and snapshots answer unavailable fast, nodes without a Redis store stay ready, the store catches up", async () => {
		const stoppedAt = Date.now();
		await redis.stop();
		const nearby = await askNearby();
		const ready = await fetch(`${restA}/health/ready`);
		const readiness = (await ready.json()) as { checks: Record<string, string> };
		const newcomer = await LiveClient.open(liveA);
		newcomer.send({ op: "watch", cells: [cellA] });
		const answer = await newcomer.next(f => f.op === "snapshot" || f.op === "error");
		newcomer.close();
		await sleep(3_000 - (Date.now() - stoppedAt));
		await redis.start();
		const backAt = Date.now();
		const sentAfter = await sleep(1_000).then(() => vendor.sent.at(-1)!);
		await waitFor(async () => ((await storedTs()) ?? 0) >= sentAfter, { timeout: 20_000, what: "positions stored after Redis returns" });
		const localGap = local.maxGap(stoppedAt, Date.now());
		console.log(
			`faults Redis stop 3 s: nearby ${nearby.status} ${nearby.type} in ${nearby.tookMs} ms; ready on A ${ready.status} (cacher: ${readiness.checks.cacher}); a new watch got ${answer.op} ${answer.code ?? ""}; local max gap ${localGap} ms; store caught up ${Date.now() - backAt} ms after Redis returned`
		);
		expect(nearby).toMatchObject({ status: 503, type: "SERVICE_UNAVAILABLE" });
		expect(nearby.tookMs).toBeLessThan(5_000);
		expect(ready.status).toBe(200);
		expect(readiness.checks.cacher).not.toBe("ok");
		expect(answer).toMatchObject({ op: "error", code: "UNAVAILABLE" });
		expect(localGap).toBeLessThanOrEqual(LOCAL_GAP_MS);
	}, 60_000);
});
