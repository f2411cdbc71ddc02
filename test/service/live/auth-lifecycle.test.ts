import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { startTestEngine, type TestEngine } from "../../helpers/engine.ts";
import { activeVendor, LiveClient, waitForRoutes } from "../../helpers/live.ts";
import { CLOSE_CODES } from "../../../gateways/live/protocol/codes.ts";

const A = { lat: 52.52, lng: 13.405 };
const cellA = latLngToCell(A.lat, A.lng, 8);
const GRACE_S = 1;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
/** A token's `exp` (epoch seconds) from the token itself. */
const expOf = (token: string) => (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number }).exp;

/** A socket follows its token's life: refreshed over the socket, closed 4003 when it lapses. */
describe("the live socket's token lifecycle", () => {
	let engine: TestEngine;
	let ownerToken: string;
	let vendorId: string;
	const open: LiveClient[] = [];
	const connect = async (query = "") => {
		// A socket signed in at the upgrade may be dropped right after open (docs/live-protocol.md): reconnect as a client would.
		const url = `${engine.liveUrl}${query}`;
		const client = query.includes("token=") ? await LiveClient.openAnswering(url) : await LiveClient.open(url);
		open.push(client);
		return client;
	};

	beforeAll(async () => {
		engine = await startTestEngine({ AUTH_GRACE_S: String(GRACE_S) });
		await waitForRoutes(engine.baseUrl);
		ownerToken = await engine.token("user_lifecycle_owner");
		vendorId = await activeVendor(engine.baseUrl, ownerToken, "Lifecycle Cart");
	});
	afterAll(async () => {
		for (const c of open) c.close();
		await engine.stop();
	});

	it("closes a socket whose token expired and was not refreshed within AUTH_GRACE_S, with 4003", async () => {
		const token = await engine.token("user_lifecycle_lapse", 2);
		const client = await connect(`?token=${token}`);
		await client.watch({ cells: [cellA] });
		expect(await client.closed(15_000)).toBe(CLOSE_CODES.TOKEN_EXPIRED);
		// Not before the grace ran out (exp has whole seconds: allow the second it was cut to).
		expect(Date.now()).toBeGreaterThanOrEqual((expOf(token) + GRACE_S) * 1000);
		expect(client.closeReason).toBe("token expired");
	});

	it("keeps a socket open past its first token's exp when the client refreshes over the socket", async () => {
		const first = await engine.token("user_lifecycle_refresh", 2);
		const client = await connect(`?token=${first}`);
		const fresh = await engine.token("user_lifecycle_refresh", 60);
		client.send({ op: "auth", token: fresh });
		expect(await client.nextOp("authed")).toEqual({ op: "authed", user: "user_lifecycle_refresh", exp: expOf(fresh) });
		await sleep((expOf(first) + GRACE_S + 2) * 1000 - Date.now());
		client.send({ op: "ping" });
		expect(await client.nextOp("pong")).toEqual({ op: "pong" });
		expect(client.closeCode).toBeNull();
	});

	it("refuses a refresh with another user's token or a bad one; the socket keeps its user and its deadline", async () => {
		const mine = await engine.token("user_lifecycle_mine", 2);
		const client = await connect(`?token=${mine}`);
		client.send({ op: "auth", token: await engine.token("user_lifecycle_other", 60) });
		expect(await client.nextOp("error")).toMatchObject({ code: "FORBIDDEN" });
		client.send({ op: "auth", token: "not.a.token" });
		expect(await client.nextOp("error")).toMatchObject({ code: "UNAUTHORIZED" });
		expect(await client.closed(15_000)).toBe(CLOSE_CODES.TOKEN_EXPIRED);
	});

	it("takes the token in the first frame instead of the URL", async () => {
		const client = await connect();
		client.send({ op: "auth", token: await engine.token("user_lifecycle_frame", 60) });
		expect(await client.nextOp("authed")).toMatchObject({ op: "authed", user: "user_lifecycle_frame" });
		const stats = await engine.broker.call<{ watchSets: { user: string | null }[] }, { sockets: boolean }>("live.stats", { sockets: true });
		expect(stats.watchSets.map(v => v.user)).toContain("user_lifecycle_frame");
	});

	it("authorises a vendor socket by its first frame: no position before, streaming after", async () => {
		const watcher = await connect();
		await watcher.watch({ cells: [cellA] });
		const vendor = await connect(`?vendor=${vendorId}`);
		vendor.send({ op: "pos", lat: A.lat, lng: A.lng });
		expect(await vendor.nextOp("error")).toMatchObject({ code: "UNAUTHORIZED" });
		vendor.send({ op: "auth", token: ownerToken });
		expect(await vendor.nextOp("authed")).toMatchObject({ user: "user_lifecycle_owner" });
		vendor.send({ op: "pos", lat: A.lat, lng: A.lng });
		expect(await watcher.next(f => f.op === "pos" && f.id === vendorId)).toMatchObject({ cell: cellA });
	});

	it("refuses a vendor socket's first-frame token of someone else (4010), and closes one that sends none (4003)", async () => {
		const stranger = await connect(`?vendor=${vendorId}`);
		stranger.send({ op: "auth", token: await engine.token("user_lifecycle_stranger", 60) });
		expect(await stranger.closed()).toBe(CLOSE_CODES.BROADCAST_REVOKED);
		const silent = await connect(`?vendor=${vendorId}`);
		expect(await silent.closed(15_000)).toBe(CLOSE_CODES.TOKEN_EXPIRED);
		expect(silent.closeReason).toBe("no token sent");
	});
});
