import ReconnectingWebSocket from "partysocket/ws";

import type { ServerFrame, VendorPositionView } from "../../gateways/live/protocol/frames.ts";

/** Vendor position as the live gateway streams it. */
export type VendorPosition = VendorPositionView;
export type { ServerFrame };

export type LiveState = "connecting" | "live" | "reconnecting";

export type LiveHandlers = {
	onState(state: LiveState, detail: string): void;
	onFrame(frame: ServerFrame): void;
};

/** Where the page's session token comes from; null = watch anonymously. */
export type TokenSource = () => Promise<string | null>;

/** The Clerk browser SDK's session token when Clerk is on the page (it refreshes its short-lived tokens itself), else none. */
export const clerkSessionToken: TokenSource = async () => {
	const clerk = (globalThis as { Clerk?: { session?: { getToken(): Promise<string | null> } | null } }).Clerk;
	return (await clerk?.session?.getToken()) ?? null;
};

/** Keeps idle proxies and the gateway's idle timeout from closing a quiet socket. */
const PING_EVERY_MS = 25_000;
/** A token is refreshed this long before its `exp` (or halfway, for a shorter-lived one). */
const REFRESH_BEFORE_EXP_MS = 15_000;

/**
 * The page's watcher socket: reconnects with exponential backoff (partysocket) and re-sends
 * the current watch set on every (re)connect, so the server always knows what we look at. When
 * the page has a session, the token goes in the first frame (never the URL) and is refreshed
 * over the socket before it expires, so the server never closes the socket for an old token.
 */
export function connectLive(url: string, handlers: LiveHandlers, getToken: TokenSource = clerkSessionToken) {
	const socket = new ReconnectingWebSocket(url, null, {
		minReconnectionDelay: 500 + Math.random() * 500,
		maxReconnectionDelay: 30_000,
		reconnectionDelayGrowFactor: 2,
		connectionTimeout: 5_000,
		// Nothing is queued while offline: the watch frame is sent fresh on open.
		maxEnqueuedMessages: 0,
	});
	let watchFrame: string | undefined;
	let pinger: ReturnType<typeof setInterval> | undefined;
	let refresher: ReturnType<typeof setTimeout> | undefined;

	/** Sends the current token, if the page has one; a failing source leaves the socket anonymous. */
	async function signIn(): Promise<void> {
		const token = await getToken().catch(() => null);
		if (token && socket.readyState === socket.OPEN) socket.send(JSON.stringify({ op: "auth", token }));
	}

	/** After `authed`: the next refresh, ahead of the token's `exp` (epoch seconds). */
	function scheduleRefresh(exp: number): void {
		clearTimeout(refresher);
		const left = exp * 1000 - Date.now();
		refresher = setTimeout(() => void signIn(), Math.max(1_000, Math.min(left - REFRESH_BEFORE_EXP_MS, left / 2)));
	}

	handlers.onState("connecting", url);
	socket.onopen = () => {
		handlers.onState("live", url);
		void signIn();
		if (watchFrame) socket.send(watchFrame);
		clearInterval(pinger);
		pinger = setInterval(() => socket.send('{"op":"ping"}'), PING_EVERY_MS);
	};
	socket.onclose = event => {
		clearInterval(pinger);
		clearTimeout(refresher);
		const attempt = socket.retryCount + 1;
		handlers.onState("reconnecting", `closed${event.code ? ` (${event.code})` : ""}; retry ${attempt}`);
	};
	socket.onmessage = event => {
		try {
			const frame = JSON.parse(String(event.data)) as ServerFrame;
			if (frame.op === "authed") scheduleRefresh(frame.exp);
			handlers.onFrame(frame);
		} catch {
			// A frame that is not JSON is the server's bug; the page keeps going.
		}
	};

	function watch(frame: object): void {
		watchFrame = JSON.stringify(frame);
		if (socket.readyState === socket.OPEN) socket.send(watchFrame);
	}

	return {
		/** Replaces the watch set with a bounding box [w, s, e, n]. */
		watchBBox(bbox: readonly number[]): void {
			watch({ op: "watch", bbox });
		},
		/** Watches nothing: the server stops streaming (used when the view is too large to watch). */
		watchNothing(): void {
			watch({ op: "watch", cells: [] });
		},
	};
}
