import { Emitter } from "./emitter.ts";
import { LiveClient, type ConnectOptions } from "./live/client.ts";
import type { InterestFrame } from "./protocol/frames.ts";

/** A fix from the phone: `ts` (epoch ms) defaults to the moment of publish(). */
export type Position = { lat: number; lng: number; ts?: number; acc?: number; hdg?: number; spd?: number };

export type PublisherOptions = {
	/** Positions per second at most: the engine's POSITION_MAX_HZ or less (default 1; the engine's default is 5). */
	maxHz?: number;
	/** A position older than this is dropped rather than sent late (default 30 s; the engine refuses any older than VENDOR_OFFLINE_AFTER_S). */
	maxAgeMs?: number;
	/** Send at min(maxHz, the `suggestedHz` of the engine's latest interest frame) (default true); false: always maxHz. */
	followInterest?: boolean;
};

export type PublisherStats = {
	/** Positions sent over the socket. */
	sent: number;
	/** Positions replaced by a newer one before they could go, or too old to send. */
	dropped: number;
};

/** The rate the publisher sends at now, and the interest frame it follows (none yet on this socket: undefined). */
export type PublisherRate = { hz: number; watchers: number | undefined; suggestedHz: number | undefined };

export type PublisherEvents = {
	/** The rate changed: an interest frame asked for another one, or a new socket starts again at maxHz. Read the GPS this often. */
	rate: PublisherRate;
};

type Interest = Omit<InterestFrame, "op">;

const isInterest = (frame: InterestFrame): boolean =>
	Number.isFinite(frame.suggestedHz) && frame.suggestedHz > 0 && Number.isInteger(frame.watchers) && frame.watchers >= 0;

/**
 * A vendor's position stream: at most `maxHz` positions a second, the newest one only. While the
 * socket is down (or not signed in) a newer position replaces the waiting one — stale positions
 * are dropped, never queued — and the newest goes as soon as the socket is signed in again.
 * It follows the engine's interest frames: nobody watching, it sends at the engine's floor rate;
 * watchers coming, it speeds up (a waiting position goes at once if the faster rate allows).
 */
export class VendorPublisher extends Emitter<PublisherEvents> {
	readonly live: LiveClient;
	readonly stats: PublisherStats = { sent: 0, dropped: 0 };
	#maxHz: number;
	#maxAgeMs: number;
	#followInterest: boolean;
	/** The latest interest frame of the current socket. */
	#interest: Interest | undefined;
	/** The newest position not sent yet (one at most). */
	#pending: (Position & { ts: number }) | undefined;
	#lastSentAt = Number.NEGATIVE_INFINITY;
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(live: LiveClient, { maxHz = 1, maxAgeMs = 30_000, followInterest = true }: PublisherOptions = {}) {
		super();
		if (!(maxHz > 0)) throw new RangeError("maxHz must be above 0");
		this.live = live;
		this.#maxHz = maxHz;
		this.#maxAgeMs = maxAgeMs;
		this.#followInterest = followInterest;
		live.on("authed", () => this.#flush());
		live.on("interest", frame => isInterest(frame) && this.#setInterest({ watchers: frame.watchers, suggestedHz: frame.suggestedHz }));
		// A frame spoke of the lost socket's cell on its node: the next socket sends at maxHz until the
		// engine's first frame on it (sent once its first position is in), so the vendor reappears at once.
		live.on("state", ({ state }) => state === "reconnecting" && this.#setInterest(undefined));
	}

	/** Positions per second now: min(maxHz, suggestedHz) while following interest, else maxHz. */
	get hz(): number {
		const suggested = this.#followInterest ? this.#interest?.suggestedHz : undefined;
		return suggested === undefined ? this.#maxHz : Math.min(this.#maxHz, suggested);
	}

	/** Customers watching around the vendor, as the latest interest frame said (undefined before the first on this socket). */
	get watchers(): number | undefined {
		return this.#interest?.watchers;
	}

	/** The rate the engine suggested in its latest interest frame (undefined before the first on this socket). */
	get suggestedHz(): number | undefined {
		return this.#interest?.suggestedHz;
	}

	publish(position: Position): void {
		if (this.#pending) this.stats.dropped++;
		this.#pending = { ...position, ts: position.ts ?? Date.now() };
		this.#flush();
	}

	/** Closes the socket for good (the vendor goes offline); a position still waiting is dropped, not sent. */
	close(): Promise<void> {
		clearTimeout(this.#timer);
		if (this.#pending) this.stats.dropped++;
		this.#pending = undefined;
		return this.live.close();
	}

	#setInterest(interest: Interest | undefined): void {
		const before = this.hz;
		this.#interest = interest;
		const hz = this.hz;
		if (hz === before) return;
		this.emit("rate", { hz, watchers: this.watchers, suggestedHz: this.suggestedHz });
		// A waiting position is timed again by the new interval: sooner when the rate rose, later when it fell.
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#flush();
	}

	#flush(): void {
		const position = this.#pending;
		if (!position || this.#timer || !this.live.authed) return;
		const wait = this.#lastSentAt + 1000 / this.hz - Date.now();
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
	const { maxHz, maxAgeMs, followInterest, ...connectOptions } = options;
	return new VendorPublisher(new LiveClient(connectOptions), { maxHz, maxAgeMs, followInterest });
}
