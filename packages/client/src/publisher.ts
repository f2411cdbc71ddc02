import { LiveClient, type ConnectOptions } from "./live/client.ts";

/** A fix from the phone: `ts` (epoch ms) defaults to the moment of publish(). */
export type Position = { lat: number; lng: number; ts?: number; acc?: number; hdg?: number; spd?: number };

export type PublisherOptions = {
	/** Positions per second at most: the engine's POSITION_MAX_HZ or less (default 1; the engine's default is 5). */
	maxHz?: number;
	/** A position older than this is dropped rather than sent late (default 30 s; the engine refuses any older than VENDOR_OFFLINE_AFTER_S). */
	maxAgeMs?: number;
};

export type PublisherStats = {
	/** Positions sent over the socket. */
	sent: number;
	/** Positions replaced by a newer one before they could go, or too old to send. */
	dropped: number;
};

/**
 * A vendor's position stream: at most `maxHz` positions a second, the newest one only. While the
 * socket is down (or not signed in) a newer position replaces the waiting one — stale positions
 * are dropped, never queued — and the newest goes as soon as the socket is signed in again.
 */
export class VendorPublisher {
	readonly live: LiveClient;
	readonly stats: PublisherStats = { sent: 0, dropped: 0 };
	#intervalMs: number;
	#maxAgeMs: number;
	/** The newest position not sent yet (one at most). */
	#pending: (Position & { ts: number }) | undefined;
	#lastSentAt = Number.NEGATIVE_INFINITY;
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(live: LiveClient, { maxHz = 1, maxAgeMs = 30_000 }: PublisherOptions = {}) {
		if (!(maxHz > 0)) throw new RangeError("maxHz must be above 0");
		this.live = live;
		this.#intervalMs = 1000 / maxHz;
		this.#maxAgeMs = maxAgeMs;
		live.on("authed", () => this.#flush());
	}

	publish(position: Position): void {
		if (this.#pending) this.stats.dropped++;
		this.#pending = { ...position, ts: position.ts ?? Date.now() };
		this.#flush();
	}

	/** Closes the socket for good (the vendor goes offline). */
	close(): Promise<void> {
		clearTimeout(this.#timer);
		return this.live.close();
	}

	#flush(): void {
		const position = this.#pending;
		if (!position || this.#timer || !this.live.authed) return;
		const wait = this.#lastSentAt + this.#intervalMs - Date.now();
		if (wait > 0) {
			this.#timer = setTimeout(() => {
				this.#timer = undefined;
				this.#flush();
			}, wait);
			return;
		}
		this.#pending = undefined;
		if (Date.now() - position.ts > this.#maxAgeMs) {
			this.stats.dropped++;
			return;
		}
		if (!this.live.send({ op: "pos", ...position })) {
			this.stats.dropped++;
			return;
		}
		this.#lastSentAt = Date.now();
		this.stats.sent++;
	}
}

/** Opens a vendor socket and its publisher: `connectVendor({ url, vendor, getToken, maxHz })`. */
export function connectVendor(options: ConnectOptions & PublisherOptions & { vendor: string }): VendorPublisher {
	const { maxHz, maxAgeMs, ...connectOptions } = options;
	return new VendorPublisher(new LiveClient(connectOptions), { maxHz, maxAgeMs });
}
