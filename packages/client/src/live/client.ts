import { closeAction, type CloseAction } from "../protocol/codes.ts";
import type {
	AlertFrame,
	InterestFrame,
	AuthedFrame,
	ClientFrame,
	ErrorFrame,
	GoneFrame,
	HereFrame,
	PositionFrame,
	ServerFrame,
	SnapshotFrame,
	WatchFrame,
} from "../protocol/frames.ts";
import { Emitter } from "../emitter.ts";
import { createBackoff, type BackoffOptions } from "./backoff.ts";

/** The session token of the signed-in user, or null to watch anonymously. Asked again before each expiry and on every connect. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

/** What the client needs of a WebSocket (the browser's and Node 22's global one fit). */
export type SocketLike = {
	readonly readyState: number;
	onopen: ((event: unknown) => void) | null;
	onclose: ((event: { code: number; reason: string }) => void) | null;
	onmessage: ((event: { data: unknown }) => void) | null;
	onerror: ((event: unknown) => void) | null;
	send(data: string): void;
	close(code?: number, reason?: string): void;
};
export type SocketConstructor = new (url: string) => SocketLike;
/** Where the browser's `online` event comes from (window); absent in Node. */
type OnlineSource = {
	addEventListener(type: "online", listener: () => void): void;
	removeEventListener(type: "online", listener: () => void): void;
};

export type ConnectOptions = {
	/** `ws(s)://host:port/live`, or a function asked on every connect (another node, a fresh URL). */
	url: string | (() => string);
	getToken?: TokenProvider;
	/** Open a vendor socket (`?vendor=`): positions may be sent once it is signed in. */
	vendor?: string;
	backoff?: BackoffOptions;
	/** Application pings keep proxies and the gateway's 60 s idle timeout away (default 25 s). */
	pingEveryMs?: number;
	/** A token is refreshed this long before its `exp`, or halfway for a shorter-lived one (default 15 s). */
	refreshBeforeExpMs?: number;
	/** A connect that has not opened by then counts as failed (default 10 s). */
	connectTimeoutMs?: number;
	/** Defaults to the global WebSocket. */
	WebSocket?: SocketConstructor;
};

/** A watch frame without its `op`: `{ cells }`, `{ bbox: [w, s, e, n] }` or `{ near: { lat, lng, radius } }`. */
export type WatchSpec = WatchFrame extends infer F ? (F extends WatchFrame ? Omit<F, "op"> : never) : never;

/** connecting (first time), open, reconnecting (waiting or trying again), closed (by close() or a give-up code). */
export type LiveState = "connecting" | "open" | "reconnecting" | "closed";
export type StateChange = {
	state: LiveState;
	/** The close code and reason that led here, and what the client made of it. */
	code?: number;
	reason?: string;
	action?: CloseAction;
	/** While reconnecting: the attempt number and the wait before it. */
	attempt?: number;
	delayMs?: number;
};

export type LiveEvents = {
	state: StateChange;
	snapshot: SnapshotFrame;
	pos: PositionFrame;
	gone: GoneFrame;
	error: ErrorFrame;
	authed: AuthedFrame;
	/** One of the signed-in user's alerts fired (`eventId` is the same on every socket of the user). */
	alert: AlertFrame;
	/** Vendor sockets: how many customers watch around the vendor, and the position rate suggested for them. */
	interest: InterestFrame;
	/** A watch frame went on the wire (after watch(), and again on every reconnect). */
	watch: WatchFrame;
};

const OPEN = 1;
/** An `auth` frame not answered by `authed` within this time is sent again (the server may have answered UNAVAILABLE). */
const AUTH_RETRY_MS = 5_000;
const CLOSE_TIMEOUT_MS = 3_000;
/** A shared position is sent again this often while sharing: the engine forgets one after 10 minutes without news. */
const HERE_REFRESH_MS = 5 * 60_000;

type Timer = ReturnType<typeof setTimeout>;

/**
 * The live socket of the protocol in docs/live-protocol.md: signs in with the first frame, refreshes
 * its token over the open socket, reconnects with jittered exponential backoff as the close code
 * says, and re-sends the watch set on every connect (its snapshot then replaces what was in view).
 */
export class LiveClient extends Emitter<LiveEvents> {
	#opts: Required<Pick<ConnectOptions, "pingEveryMs" | "refreshBeforeExpMs" | "connectTimeoutMs">> & ConnectOptions;
	#backoff;
	#socket: SocketLike | undefined;
	#state: LiveState = "connecting";
	#watch: WatchFrame | undefined;
	#here: HereFrame | undefined;
	#authed = false;
	#timers: { ping?: Timer; refresh?: Timer; authRetry?: Timer; reconnect?: Timer; connect?: Timer; closing?: Timer; here?: Timer } = {};
	#closed: Array<() => void> = [];
	#online = () => this.#networkReturned();

	constructor(options: ConnectOptions) {
		super();
		this.#opts = { pingEveryMs: 25_000, refreshBeforeExpMs: 15_000, connectTimeoutMs: 10_000, ...options };
		this.#backoff = createBackoff(options.backoff);
		onlineSource()?.addEventListener("online", this.#online);
		this.#open();
	}

	get state(): LiveState {
		return this.#state;
	}

	/** The socket is open and signed in (the server answered `authed`): a vendor socket may send positions. */
	get authed(): boolean {
		return this.#authed;
	}

	/** Replaces the watch set; kept and sent again after every reconnect. */
	watch(spec: WatchSpec): void {
		this.#watch = { op: "watch", ...spec } as WatchFrame;
		if (this.send(this.#watch)) this.emit("watch", this.#watch);
	}

	/**
	 * Shares the signed-in user's own position (for alerts "near me"): sent once the socket is signed
	 * in, again after every reconnect and every few minutes until stopSharing(). Never stored nor shown to others.
	 */
	shareHere(lat: number, lng: number): void {
		this.#here = { op: "here", lat, lng };
		if (this.#authed) this.#sendHere();
	}

	/** Stops sharing: the engine forgets the position at once. */
	stopSharing(): void {
		if (!this.#here) return;
		this.#here = undefined;
		clearInterval(this.#timers.here);
		if (this.#authed) this.send({ op: "here", stop: true });
	}

	/** Sends a frame if the socket is open; false when it is not (nothing is queued). */
	send(frame: ClientFrame): boolean {
		if (this.#socket?.readyState !== OPEN) return false;
		this.#socket.send(JSON.stringify(frame));
		return true;
	}

	/** Closes for good (no reconnect); resolves once the socket has closed. */
	close(): Promise<void> {
		onlineSource()?.removeEventListener("online", this.#online);
		const socket = this.#socket;
		this.#setState({ state: "closed" });
		this.#stopTimers();
		if (socket?.readyState !== OPEN) {
			if (socket) this.#dropped(socket, 1000, "client closed");
			return Promise.resolve();
		}
		const done = new Promise<void>(resolve => this.#closed.push(resolve));
		socket.close(1000, "client closed");
		// A peer that never answers the close handshake does not hold the caller up.
		this.#timers.closing = setTimeout(() => this.#dropped(socket, 1006, "close timeout"), CLOSE_TIMEOUT_MS);
		return done;
	}

	#setState(change: StateChange): void {
		this.#state = change.state;
		this.emit("state", change);
	}

	#url(): string {
		const base = typeof this.#opts.url === "function" ? this.#opts.url() : this.#opts.url;
		if (!this.#opts.vendor) return base;
		return `${base}${base.includes("?") ? "&" : "?"}vendor=${encodeURIComponent(this.#opts.vendor)}`;
	}

	#open(): void {
		const Socket = this.#opts.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
		if (!Socket) throw new Error("@venta/client: no WebSocket in this environment; pass options.WebSocket");
		const socket = new Socket(this.#url());
		this.#socket = socket;
		this.#timers.connect = setTimeout(() => this.#dropped(socket, 1006, "connect timeout"), this.#opts.connectTimeoutMs);
		socket.onopen = () => {
			clearTimeout(this.#timers.connect);
			this.#backoff.reset();
			this.#setState({ state: "open" });
			void this.#signIn(socket);
			if (this.#watch && this.send(this.#watch)) this.emit("watch", this.#watch);
			this.#timers.ping = setInterval(() => this.send({ op: "ping" }), this.#opts.pingEveryMs);
		};
		socket.onmessage = event => this.#received(socket, event.data);
		socket.onclose = event => this.#dropped(socket, event.code, event.reason);
		// On an open socket a close follows an error and decides; a connect that fails may report only the error.
		socket.onerror = () => {
			if (socket.readyState !== OPEN) this.#dropped(socket, 1006, "connection failed");
		};
	}

	#received(socket: SocketLike, data: unknown): void {
		let frame: ServerFrame;
		try {
			frame = JSON.parse(String(data)) as ServerFrame;
		} catch {
			return; // Not JSON: the server's bug; the stream goes on.
		}
		if (frame.op === "authed") {
			// The first `authed` of a socket: a shared position may go now (before it, it would be refused).
			if (!this.#authed && this.#here) this.#sendHere();
			this.#authed = true;
			clearTimeout(this.#timers.authRetry);
			this.#scheduleRefresh(socket, frame.exp);
		}
		if (frame.op !== "pong") this.emit(frame.op, frame as never);
	}

	/** Sends a fresh token (first frame or refresh); a provider that fails or has none leaves the socket as it is. */
	async #signIn(socket: SocketLike): Promise<void> {
		const token = await Promise.resolve()
			.then(() => this.#opts.getToken?.())
			.catch(() => null);
		if (socket !== this.#socket || socket.readyState !== OPEN) return;
		if (token) socket.send(JSON.stringify({ op: "auth", token }));
		if (token || this.#opts.vendor) {
			clearTimeout(this.#timers.authRetry);
			this.#timers.authRetry = setTimeout(() => void this.#signIn(socket), AUTH_RETRY_MS);
		}
	}

	#sendHere(): void {
		clearInterval(this.#timers.here);
		if (!this.#here || !this.send(this.#here)) return;
		this.#timers.here = setInterval(() => this.#here && this.send(this.#here), HERE_REFRESH_MS);
	}

	/** After `authed`: the next refresh ahead of `exp` (epoch seconds). */
	#scheduleRefresh(socket: SocketLike, exp: number): void {
		clearTimeout(this.#timers.refresh);
		const left = exp * 1000 - Date.now();
		const wait = Math.max(1_000, Math.min(left - this.#opts.refreshBeforeExpMs, left / 2));
		this.#timers.refresh = setTimeout(() => void this.#signIn(socket), wait);
	}

	#dropped(socket: SocketLike, code: number, reason: string): void {
		if (socket !== this.#socket) return;
		socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
		if (socket.readyState !== 3) socket.close();
		this.#socket = undefined;
		this.#authed = false;
		this.#stopTimers();
		if (this.#state === "closed") {
			this.#settleClosed();
			return;
		}
		const action = closeAction(code);
		if (action === "give up") {
			onlineSource()?.removeEventListener("online", this.#online);
			this.#setState({ state: "closed", code, reason, action });
			return;
		}
		// A fresh token is all a 4003 needs: at once, without waiting.
		const delayMs = action === "reauthenticate" ? 0 : this.#backoff.next();
		this.#setState({ state: "reconnecting", code, reason, action, attempt: this.#backoff.attempts, delayMs });
		this.#timers.reconnect = setTimeout(() => this.#open(), delayMs);
	}

	/** The browser is back online: a client waiting to reconnect tries now, from the first delay. */
	#networkReturned(): void {
		this.#backoff.reset();
		if (this.#state !== "reconnecting" || this.#socket) return;
		clearTimeout(this.#timers.reconnect);
		this.#open();
	}

	#stopTimers(): void {
		clearInterval(this.#timers.ping);
		for (const timer of Object.values(this.#timers)) clearTimeout(timer);
		this.#timers = {};
	}

	#settleClosed(): void {
		for (const resolve of this.#closed.splice(0)) resolve();
	}
}

function onlineSource(): OnlineSource | undefined {
	const g = globalThis as Partial<OnlineSource> & { window?: unknown };
	return g.window !== undefined && typeof g.addEventListener === "function" ? (g as OnlineSource) : undefined;
}

/** Opens a live socket (see LiveClient). */
export const connect = (options: ConnectOptions): LiveClient => new LiveClient(options);
