import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { latLngToCell } from "h3-js";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient, waitForRoutes } from "../../helpers/live.ts";
import { CLOSE_CODES } from "../../../gateways/live/protocol/codes.ts";

const A = { lat: 52.52, lng: 13.405 };
const cellA = latLngToCell(A.lat, A.lng, 8);

/** One node against hostile sockets: each refused cheaply, nobody else slowed, the process alive. */
describe("the live gateway against untrusted sockets", () => {
	let engine: TestEngine;
	const open: LiveClient[] = [];
	const connect = async (query = "") => {
		// A socket signed in at the upgrade may be dropped right after open (docs/live-protocol.md): reconnect as a client would.
		const url = `${engine.liveUrl}${query}`;
		const client = query.includes("token=") ? await LiveClient.openAnswering(url) : await LiveClient.open(url);
		open.push(client);
		return client;
	};
	/** Closes every socket the test opened and waits until the node holds none. */
	const allClosed = async () => {
		for (const c of open.splice(0)) c.close();
		await waitFor(async () => (await engine.broker.call<{ sockets: number }>("live.stats")).sockets === 0, { what: "every socket closed" });
	};
	beforeAll(async () => {
		engine = await startTestEngine({ LIVE_MAX_SOCKETS_PER_IP: "6", LIVE_OPS_PER_S: "20" });
		await waitForRoutes(engine.baseUrl);
	});
	afterAll(async () => {
		for (const c of open) c.close();
		await engine.stop();
	});

	it("answers a frame nested 5 000 levels deep with an error and keeps the socket", async () => {
		const client = await connect();
		client.send(`{"op":"watch","cells":${"[".repeat(5_000)}"x"${"]".repeat(5_000)}}`);
		expect(await client.nextOp("error")).toEqual({ op: "error", code: "BAD_REQUEST", message: "Frame nests deeper than 4 levels" });
		client.send({ op: "ping" });
		expect(await client.nextOp("pong")).toEqual({ op: "pong" });
		client.close();
	});

	it("refuses a malformed ?vendor= with 400, an unknown vendor with 404", async () => {
		const token = await engine.token("user_hardening_live");
		await expect(LiveClient.open(`${engine.liveUrl}?token=${token}&vendor=${encodeURIComponent("../etc/passwd")}`)).rejects.toMatchObject({
			status: 400,
		});
		await expect(LiveClient.open(`${engine.liveUrl}?token=${token}&vendor=ven_nobody`)).rejects.toMatchObject({ status: 404 });
	});

	it("charges watches by their cells: a flood of valid watches gets RATE_LIMITED, then the socket is closed (4008)", async () => {
		const flooder = await connect();
		const watcher = await connect();
		await watcher.watch({ cells: [cellA] });
		for (let i = 0; i < 400; i++) flooder.send({ op: "watch", bbox: [13.3 + i * 1e-5, 52.45, 13.5, 52.56] });
		expect(await flooder.nextOp("error")).toMatchObject({ code: "RATE_LIMITED" });
		expect(await flooder.closed()).toBe(CLOSE_CODES.POLICY);
		// The others were not touched.
		watcher.send({ op: "ping" });
		expect(await watcher.nextOp("pong")).toEqual({ op: "pong" });
		watcher.close();
	});

	it("holds at most LIVE_MAX_SOCKETS_PER_IP sockets per address, and frees a place when one closes", async () => {
		await allClosed();
		const ours = await Promise.all(Array.from({ length: 6 }, () => connect()));
		const refused = await LiveClient.open(engine.liveUrl).catch((err: { status: number; body: string }) => err);
		expect(refused).toMatchObject({ status: 429 });
		expect(JSON.parse((refused as { body: string }).body)).toMatchObject({ code: 429, type: "RATE_LIMITED" });
		ours[0]!.close();
		await ours[0]!.closed();
		await waitFor(() => LiveClient.open(engine.liveUrl).then(c => open.push(c) > 0), { what: "a free place" });
	});

	it("streams positions to watchers while another socket floods, and every position arrives", async () => {
		await allClosed();
		const owner = await engine.token("user_hardening_vendor");
		const vendorId = await activeVendor(engine.baseUrl, owner);
		const watcher = await connect();
		await watcher.watch({ cells: [cellA] });
		const vendor = await connect(`?token=${owner}&vendor=${vendorId}`);
		const flooder = new WebSocket(engine.liveUrl);
		await new Promise(r => flooder.once("open", r));
		const flood = setInterval(() => {
			for (let i = 0; i < 50 && flooder.readyState === WebSocket.OPEN; i++)
				flooder.send(JSON.stringify({ op: "watch", bbox: [13.3, 52.45, 13.5 + Math.random() * 1e-3, 52.56] }));
		}, 5);
		const sent: number[] = [];
		for (let i = 0; i < 10; i++) {
			const ts = Date.now();
			vendor.send({ op: "pos", lat: A.lat + i * 1e-5, lng: A.lng, ts });
			sent.push(ts);
			await new Promise(r => setTimeout(r, 250));
		}
		clearInterval(flood);
		for (const ts of sent) expect(await watcher.next(f => f.op === "pos" && f.ts === ts)).toMatchObject({ id: vendorId, cell: cellA });
		flooder.close();
	});
});
