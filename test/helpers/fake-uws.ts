import type { TemplatedApp } from "uWebSockets.js";
import type { CellRouter } from "../../gateways/live/router.ts";
import { createSocketData, type LiveSocket, type SocketIdentity } from "../../gateways/live/socket.ts";

/**
 * The part of uWebSockets.js the live hub uses (topics, sends, closes), in memory, for unit
 * tests without sockets. The service and cluster tiers run the real uWS server.
 */
export class FakeSocket {
	readonly data;
	readonly sent: string[] = [];
	readonly topics = new Set<string>();
	ended: { code: number; reason: string } | null = null;
	buffered = 0;
	readonly #app: FakeApp;

	constructor(app: FakeApp, identity: SocketIdentity) {
		this.#app = app;
		this.data = createSocketData(identity, { positionMaxHz: 5, opsPerS: 100 });
	}
	getUserData() {
		return this.data;
	}
	subscribe(topic: string) {
		this.topics.add(topic);
		this.#app.topic(topic).add(this);
		return true;
	}
	unsubscribe(topic: string) {
		this.topics.delete(topic);
		this.#app.topic(topic).delete(this);
		return true;
	}
	send(frame: string) {
		this.sent.push(frame);
		return 1;
	}
	cork(fn: () => void) {
		fn();
		return this;
	}
	getBufferedAmount() {
		return this.buffered;
	}
	end(code: number, reason: string) {
		this.ended = { code, reason };
	}
	get asLive(): LiveSocket {
		return this as unknown as LiveSocket;
	}
}

export class FakeApp {
	readonly #topics = new Map<string, Set<FakeSocket>>();
	/** Every publish, as uWS would serialise it once for all subscribers. */
	readonly published: { topic: string; frame: string }[] = [];

	topic(name: string): Set<FakeSocket> {
		let set = this.#topics.get(name);
		if (!set) {
			set = new Set();
			this.#topics.set(name, set);
		}
		return set;
	}
	numSubscribers(topic: string) {
		return this.#topics.get(topic)?.size ?? 0;
	}
	publish(topic: string, frame: string) {
		this.published.push({ topic, frame });
		for (const ws of this.#topics.get(topic) ?? []) ws.send(frame);
		return true;
	}
	socket(identity: Partial<SocketIdentity> = {}): FakeSocket {
		return new FakeSocket(this, {
			user: null,
			vendorId: null,
			awaitingVendorId: null,
			tokenExpiresAt: null,
			address: "127.0.0.1",
			...identity,
		});
	}
	get asApp(): TemplatedApp {
		return this as unknown as TemplatedApp;
	}
}

/** A cross-node router that records what the hub asks of NATS. */
export class FakeRouter {
	readonly subjects = new Set<string>();
	readonly published: { routingCell: string; cell: string; vendorId: string; frame: string }[] = [];
	subscribe(cell: string) {
		this.subjects.add(cell);
	}
	unsubscribe(cell: string) {
		this.subjects.delete(cell);
	}
	publish(routingCell: string, cell: string, vendorId: string, frame: string) {
		this.published.push({ routingCell, cell, vendorId, frame });
	}
	get asRouter(): CellRouter {
		return this as unknown as CellRouter;
	}
}
