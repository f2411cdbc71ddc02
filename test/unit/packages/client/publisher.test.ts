import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveClient, type SocketLike } from "../../../../packages/client/src/live/client.ts";
import { VendorPublisher, type PublisherOptions, type PublisherRate } from "../../../../packages/client/src/publisher.ts";

/** The socket side of the engine, driven by the test: it opens, signs in, sends frames and closes when told. */
class ScriptedSocket implements SocketLike {
	static last: ScriptedSocket | undefined;
	readyState = 0;
	onopen: SocketLike["onopen"] = null;
	onclose: SocketLike["onclose"] = null;
	onmessage: SocketLike["onmessage"] = null;
	onerror: SocketLike["onerror"] = null;
	readonly sent: Array<{ op: string; lat?: number; at: number }> = [];
	constructor() {
		ScriptedSocket.last = this;
	}
	send(data: string): void {
		this.sent.push({ ...(JSON.parse(data) as { op: string; lat?: number }), at: Date.now() });
	}
	close(code = 1000, reason = ""): void {
		this.readyState = 3;
		this.onclose?.({ code, reason });
	}
	/** Opens and answers `authed`, as the engine does for a vendor socket. */
	signIn(): void {
		this.readyState = 1;
		this.onopen?.({});
		this.frame({ op: "authed", user: "user_v", exp: Math.floor(Date.now() / 1000) + 3600 });
	}
	frame(frame: object): void {
		this.onmessage?.({ data: JSON.stringify(frame) });
	}
	interest(watchers: number, suggestedHz: number): void {
		this.frame({ op: "interest", watchers, suggestedHz });
	}
	positions = () => this.sent.filter(f => f.op === "pos");
}

function setup(options: PublisherOptions = {}) {
	const live = new LiveClient({ url: "ws://engine/live", vendor: "v1", WebSocket: ScriptedSocket, backoff: { initialMs: 1_000 } });
	const socket = ScriptedSocket.last!;
	const publisher = new VendorPublisher(live, options);
	const rates: PublisherRate[] = [];
	publisher.on("rate", r => rates.push(r));
	socket.signIn();
	return { publisher, socket, rates };
}

/** The app reads its GPS every `everyMs` for `forMs`: one publish() per reading. */
async function publishEvery(publisher: VendorPublisher, everyMs: number, forMs: number): Promise<void> {
	for (let t = 0; t < forMs; t += everyMs) {
		publisher.publish({ lat: 52.5 + t * 1e-7, lng: 13.4 });
		await vi.advanceTimersByTimeAsync(everyMs);
	}
}

describe("VendorPublisher follows the engine's interest frames", () => {
	beforeEach(() => void vi.useFakeTimers({ now: 1_800_000_000_000 }));
	afterEach(() => void vi.useRealTimers());

	it("sends at maxHz until the first frame, then at the suggested rate", async () => {
		const { publisher, socket, rates } = setup({ maxHz: 5 });
		expect(publisher.hz).toBe(5);
		expect(publisher.watchers).toBeUndefined();
		await publishEvery(publisher, 200, 2_000);
		expect(socket.positions()).toHaveLength(10);
		socket.interest(0, 0.1);
		expect(publisher.hz).toBe(0.1);
		expect([publisher.watchers, publisher.suggestedHz]).toEqual([0, 0.1]);
		const before = socket.positions().length;
		await publishEvery(publisher, 200, 30_000);
		// One every 10 s: the first 10 s after the last one, then two more.
		expect(socket.positions().length - before).toBe(3);
		expect(rates).toEqual([{ hz: 0.1, watchers: 0, suggestedHz: 0.1 }]);
		// The newest reading is what goes: the last one sent was read at most 400 ms before the end.
		expect(socket.positions().at(-1)!.lat).toBeGreaterThanOrEqual(52.5 + 29_600 * 1e-7 - 1e-9);
	});

	it("never sends faster than maxHz, whatever the engine suggests", async () => {
		const { publisher, socket, rates } = setup({ maxHz: 2 });
		socket.interest(40, 5);
		expect(publisher.hz).toBe(2);
		expect(rates).toEqual([]);
		await publishEvery(publisher, 100, 5_000);
		// At 0, 0.5, … 5 s.
		expect(socket.positions()).toHaveLength(11);
	});

	it("sends the waiting position at once when a watcher comes and the faster rate allows it", async () => {
		const { publisher, socket } = setup({ maxHz: 5 });
		publisher.publish({ lat: 1, lng: 1 });
		socket.interest(0, 0.1);
		await vi.advanceTimersByTimeAsync(1_000);
		publisher.publish({ lat: 2, lng: 2 });
		await vi.advanceTimersByTimeAsync(1_000);
		expect(socket.positions().map(p => p.lat)).toEqual([1]);
		socket.interest(1, 1);
		expect(socket.positions().map(p => p.lat)).toEqual([1, 2]);
		expect(socket.positions()[1]!.at - socket.positions()[0]!.at).toBe(2_000);
	});

	it("holds a waiting position until the new, shorter interval has passed", async () => {
		const { publisher, socket } = setup({ maxHz: 5 });
		socket.interest(0, 0.1);
		publisher.publish({ lat: 1, lng: 1 });
		await vi.advanceTimersByTimeAsync(50);
		publisher.publish({ lat: 2, lng: 2 });
		socket.interest(12, 5);
		expect(socket.positions()).toHaveLength(1);
		await vi.advanceTimersByTimeAsync(149);
		expect(socket.positions()).toHaveLength(1);
		await vi.advanceTimersByTimeAsync(1);
		expect(socket.positions().map(p => p.lat)).toEqual([1, 2]);
	});

	it("waits longer for a waiting position when the rate falls", async () => {
		const { publisher, socket } = setup({ maxHz: 1 });
		publisher.publish({ lat: 1, lng: 1 });
		publisher.publish({ lat: 2, lng: 2 });
		socket.interest(0, 0.25);
		await vi.advanceTimersByTimeAsync(3_999);
		expect(socket.positions()).toHaveLength(1);
		await vi.advanceTimersByTimeAsync(1);
		expect(socket.positions().map(p => p.lat)).toEqual([1, 2]);
	});

	it("starts a new socket at maxHz again, until that socket's first frame", async () => {
		const { publisher, socket, rates } = setup({ maxHz: 4 });
		socket.interest(0, 0.1);
		socket.close(1006, "lost");
		expect(publisher.hz).toBe(4);
		expect(publisher.watchers).toBeUndefined();
		expect(rates).toEqual([
			{ hz: 0.1, watchers: 0, suggestedHz: 0.1 },
			{ hz: 4, watchers: undefined, suggestedHz: undefined },
		]);
		await vi.advanceTimersByTimeAsync(1_000);
		const next = ScriptedSocket.last!;
		expect(next).not.toBe(socket);
		next.signIn();
		await publishEvery(publisher, 250, 2_000);
		expect(next.positions()).toHaveLength(8);
		next.interest(3, 1.89);
		expect(rates.at(-1)).toEqual({ hz: 1.89, watchers: 3, suggestedHz: 1.89 });
	});

	it("sends nothing more once closed: a waiting position is dropped", async () => {
		const { publisher, socket } = setup({ maxHz: 5 });
		socket.interest(0, 0.1);
		publisher.publish({ lat: 1, lng: 1 });
		publisher.publish({ lat: 2, lng: 2 });
		const closed = publisher.close();
		socket.close(1000, "client closed");
		await closed;
		await vi.advanceTimersByTimeAsync(20_000);
		expect(socket.positions().map(p => p.lat)).toEqual([1]);
		expect(publisher.stats).toEqual({ sent: 1, dropped: 1 });
	});

	it("with followInterest: false keeps maxHz, and still tells the watchers", async () => {
		const { publisher, socket, rates } = setup({ maxHz: 2, followInterest: false });
		socket.interest(0, 0.1);
		expect(publisher.hz).toBe(2);
		expect([publisher.watchers, publisher.suggestedHz]).toEqual([0, 0.1]);
		await publishEvery(publisher, 100, 5_000);
		// At 0, 0.5, … 5 s.
		expect(socket.positions()).toHaveLength(11);
		expect(rates).toEqual([]);
	});

	it("ignores an interest frame it cannot follow (no rate, zero, negative, not a number)", async () => {
		const { publisher, socket, rates } = setup({ maxHz: 2 });
		for (const bad of [
			{ watchers: 0 },
			{ watchers: 0, suggestedHz: 0 },
			{ watchers: 0, suggestedHz: -1 },
			{ watchers: 0, suggestedHz: "0.1" },
			{ watchers: -3, suggestedHz: 0.1 },
			{ watchers: "many", suggestedHz: 0.1 },
		])
			socket.frame({ op: "interest", ...bad });
		expect(publisher.hz).toBe(2);
		expect(publisher.watchers).toBeUndefined();
		expect(rates).toEqual([]);
	});
});
