import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, uniqueNamespace, waitFor, type TestEngine, TEST_NATS_URL as NATS_URL } from "../helpers/engine.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnNode } from "../helpers/process.ts";
import { metricTotal, startSimulator, type Simulator } from "../helpers/simulator.ts";

/** A few blocks in Berlin Mitte: every simulated vendor stays within 1 km of the centre. */
const BBOX = [13.395, 52.515, 13.405, 52.521] as const;
const CENTRE = { lat: 52.518, lng: 13.4 };
const VENDORS = 12;

type NearbyPage = { rows: Array<{ id: string; online: boolean; position: { lat: number; lng: number } }> };

describe("vendor simulator (npm run simulate)", () => {
	let engine: TestEngine;
	let sim: Simulator | undefined;
	let ids: string[];

	beforeAll(async () => {
		// Tokens of 3 s and a 2 s grace: the simulator's sockets live only as long as it refreshes them.
		engine = await startTestEngine({ AUTH_GRACE_S: "2" });
		// Nobody watches here: following interest, the vendors would send at the engine's floor rate (simulator-interest.test.ts).
		sim = await startSimulator(engine, {
			vendors: VENDORS,
			bbox: BBOX,
			prefix: "simtest",
			args: ["--hz", "2", "--offline-per-hour", "0", "--token-ttl", "3", "--ignore-interest"],
		});
		ids = await sim.vendorIds();
	});
	afterAll(async () => {
		await sim?.kill("SIGKILL");
		await engine?.stop();
	});

	const nearby = async (online: boolean): Promise<NearbyPage["rows"]> => {
		const res = await fetch(
			`${engine.baseUrl}/api/discovery/nearby?lat=${CENTRE.lat}&lng=${CENTRE.lng}&radius=2000&online=${online}&limit=200`
		);
		expect(res.status).toBe(200);
		return ((await res.json()) as NearbyPage).rows;
	};

	it("onboards and activates distinct vendors through the REST API", async () => {
		expect(new Set(ids).size).toBe(VENDORS);
		for (const id of ids) {
			const vendor = (await (await fetch(`${engine.baseUrl}/api/vendors/${id}`)).json()) as {
				status: string;
				categories: string[];
				name: string;
			};
			expect(vendor.status).toBe("active");
			expect(vendor.categories.length).toBeGreaterThan(0);
			expect(vendor.name).toMatch(/\d+$/);
		}
	});

	it("streams positions that the engine counts on /metrics", async () => {
		// Every vendor at 2 Hz: a few seconds give well over one frame per vendor.
		const accepted = await waitFor(
			async () => {
				const n = metricTotal(await (await fetch(`${engine.baseUrl}/metrics`)).text(), "venta_live_positions_in_total");
				return n >= VENDORS * 4 ? n : 0;
			},
			{ timeout: 20_000, what: "venta_live_positions_in_total to grow" }
		);
		expect(accepted).toBeGreaterThanOrEqual(VENDORS * 4);
		expect(sim!.output()).toMatch(/vendors connected \d+\/12/);
	});

	const locations = () =>
		Promise.all(
			ids.map(
				async id =>
					(await (await fetch(`${engine.baseUrl}/api/vendors/${id}/location`)).json()) as { online: boolean; lat?: number; lng?: number }
			)
		);
	const liveSockets = async () => metricTotal(await (await fetch(`${engine.baseUrl}/metrics`)).text(), "venta_live_sockets");

	it("puts every vendor on the map, inside the box", async () => {
		const online = await waitFor(
			async () => {
				const all = await locations();
				return all.every(l => l.online) ? all : undefined;
			},
			{ timeout: 15_000, what: "every simulated vendor online" }
		);
		// The box plus GPS jitter (at most 15 m ≈ 0.0003°).
		for (const l of online) {
			expect(l.lat).toBeGreaterThan(BBOX[1] - 0.0003);
			expect(l.lat).toBeLessThan(BBOX[3] + 0.0003);
			expect(l.lng).toBeGreaterThan(BBOX[0] - 0.0003);
			expect(l.lng).toBeLessThan(BBOX[2] + 0.0003);
		}
		await waitFor(async () => (await liveSockets()) === VENDORS, { what: `venta_live_sockets to show ${VENDORS}` });
		const rows = await waitFor(
			async () => {
				const found = (await nearby(true)).filter(r => ids.includes(r.id));
				return found.length === VENDORS ? found : undefined;
			},
			{ timeout: 15_000, what: "nearby to find all simulated vendors online" }
		);
		for (const r of rows) expect(r.online).toBe(true);
	});

	it("signs its sockets in by their first frame and refreshes the tokens: no socket lapses over several token lifetimes", async () => {
		const started = Date.now();
		await waitFor(async () => (await liveSockets()) === VENDORS, { what: `venta_live_sockets to show ${VENDORS}` });
		await new Promise(r => setTimeout(r, Math.max(0, 10_000 - (Date.now() - started))));
		expect(await liveSockets()).toBe(VENDORS);
		expect(sim!.output()).not.toMatch(/CLOSED_4003|UNAUTHORIZED|AUTH_FAILED/);
		const stats = await engine.broker.call<{ watchSets: { user: string | null; vendorId: string | null }[] }, { sockets: boolean }>(
			"live.stats",
			{
				sockets: true,
			}
		);
		expect(
			stats.watchSets
				.filter(s => s.vendorId !== null)
				.map(s => s.user)
				.sort()
		).toEqual(Array.from({ length: VENDORS }, (_, i) => `user_simtest_${i}`).sort());
	}, 30_000);

	it("takes its vendors offline on SIGINT and exits cleanly", async () => {
		const code = await sim!.kill("SIGINT");
		expect(code).toBe(0);
		expect(sim!.output()).toMatch(/stopped \(SIGINT\): 12 vendor sockets closed, \d+ positions sent/);
		expect(sim!.output()).toMatch(/^\{"report":"positions","elapsedS":\d+,"followInterest":false,"vendors":12,/m);
		await waitFor(async () => (await locations()).every(l => !l.online), { timeout: 10_000, what: "the vendors to go offline" });
		// The gauge is synced periodically, not per socket.
		await waitFor(async () => (await liveSockets()) === 0, { what: "venta_live_sockets to drop to 0" });
		expect((await nearby(true)).filter(r => ids.includes(r.id))).toEqual([]);
	});

	it("refuses bad arguments with one clear line", async () => {
		const bad = spawnNode("scripts/simulate/simulate.ts", { AUTH_DEV_SECRET: "x".repeat(32), DATA_DIR: ":memory:" }, [
			"--bbox",
			"13.4,52.5,13.3",
		]);
		expect(await bad.exited).toBe(2);
		expect(bad.output()).toMatch(/^--bbox must be west,south,east,north/);
		const zero = spawnNode("scripts/simulate/simulate.ts", { AUTH_DEV_SECRET: "x".repeat(32), DATA_DIR: ":memory:" }, ["--vendors", "0"]);
		expect(await zero.exited).toBe(2);
		expect(zero.output()).toMatch(/^--vendors must be an integer from 1/);
		// West of Greenwich the box starts with a minus sign: still read as the option's value.
		const west = spawnNode("scripts/simulate/simulate.ts", { AUTH_DEV_SECRET: "x".repeat(32), DATA_DIR: ":memory:" }, [
			"--bbox",
			"-9.2,38.7,-9.1",
		]);
		expect(await west.exited).toBe(2);
		expect(west.output()).toMatch(/^--bbox must be west,south,east,north with west < east and south < north, got "-9.2,38.7,-9.1"/);
	});

	it("reports an engine it cannot reach instead of hanging", async () => {
		const port = await freePort();
		const lost = spawnNode("scripts/simulate/simulate.ts", { AUTH_DEV_SECRET: "x".repeat(32), DATA_DIR: ":memory:" }, [
			"--vendors",
			"1",
			"--url",
			`http://127.0.0.1:${port}`,
			"--wait",
			"1",
		]);
		expect(await lost.exited).toBe(2);
		expect(lost.output()).toContain(`waiting up to 1 s for the engine at http://127.0.0.1:${port} (not reachable yet)`);
		expect(lost.output()).toContain(`onboarding failed: cannot reach the engine at http://127.0.0.1:${port} (ECONNREFUSED)`);
	});
});

describe("vendor simulator against a cluster", () => {
	let core: TestEngine;
	let live: TestEngine;
	let sim: Simulator | undefined;

	beforeAll(async () => {
		const NAMESPACE = uniqueNamespace("sim");
		core = await startTestEngine({ NATS_URL, NAMESPACE, SERVICES: "api,users,vendors,discovery,geo" });
		live = await startTestEngine({ NATS_URL, NAMESPACE, SERVICES: "live" });
		await Promise.all([core.broker.waitForServices(["live"], 10_000), live.broker.waitForServices(["vendors", "geo", "users"], 10_000)]);
	});
	afterAll(async () => {
		await sim?.kill("SIGKILL");
		await live?.stop();
		await core?.stop();
	});

	it("onboards on the REST node and streams through the live-only node", async () => {
		sim = await startSimulator(
			{ baseUrl: core.baseUrl, liveUrl: live.liveUrl },
			{ vendors: 6, bbox: BBOX, prefix: "simcluster", args: ["--hz", "2", "--offline-per-hour", "0"] }
		);
		const ids = await sim.vendorIds();
		// The live node answers /metrics on its own port.
		const liveMetrics = `http://127.0.0.1:${live.config.livePort}/metrics`;
		await waitFor(async () => metricTotal(await (await fetch(liveMetrics)).text(), "venta_live_positions_in_total") >= 12, {
			timeout: 20_000,
			what: "positions on the live node",
		});
		await waitFor(
			async () => {
				const res = await fetch(`${core.baseUrl}/api/discovery/nearby?lat=${CENTRE.lat}&lng=${CENTRE.lng}&radius=2000&online=true`);
				const rows = ((await res.json()) as NearbyPage).rows;
				return ids.every(id => rows.some(r => r.id === id));
			},
			{ timeout: 15_000, what: "the REST node's nearby to find the vendors" }
		);
		expect(await sim.kill("SIGINT")).toBe(0);
	});
});
