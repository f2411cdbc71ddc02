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

/** Keeps idle proxies and the gateway's idle timeout from closing a quiet socket. */
const PING_EVERY_MS = 25_000;

/**
 * The page's watcher socket: reconnects with exponential backoff (partysocket) and re-sends
 * the current watch set on every (re)connect, so the server always knows what we look at.
 */
export function connectLive(url: string, handlers: LiveHandlers) {
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

	handlers.onState("connecting", url);
	socket.onopen = () => {
		handlers.onState("live", url);
		if (watchFrame) socket.send(watchFrame);
		clearInterval(pinger);
		pinger = setInterval(() => socket.send('{"op":"ping"}'), PING_EVERY_MS);
	};
	socket.onclose = event => {
		clearInterval(pinger);
		const attempt = socket.retryCount + 1;
		handlers.onState("reconnecting", `closed${event.code ? ` (${event.code})` : ""}; retry ${attempt}`);
	};
	socket.onmessage = event => {
		try {
			handlers.onFrame(JSON.parse(String(event.data)) as ServerFrame);
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
