import type { ServiceBroker } from "moleculer";
import { HERE_EVENT, type HereUpdate } from "../../services/alerts/contract.ts";
import type { LiveHub } from "./hub.ts";
import type { HereFrame } from "./protocol/frames.ts";
import type { LiveSocket } from "./socket.ts";

/** A socket's shared position goes to the geo nodes at most once per this window (the latest of it). */
export const HERE_EVERY_MS = 1_000;

/**
 * Customers' shared positions (`{"op":"here"}`): held by the socket only, told to the geo nodes as
 * HERE_EVENT (its roaming alerts follow it), never stored nor sent to watchers. Per socket at most
 * one update per HERE_EVERY_MS; a newer position within the window goes at its end (`flush`, each
 * second). When no socket of the user on this node shares any more, geo is told `at: null`.
 */
export class SharedPositions {
	readonly #broker: ServiceBroker;
	readonly #hub: LiveHub;
	/** Sockets whose latest position waits for its window. */
	readonly #pending = new Set<LiveSocket>();

	constructor(broker: ServiceBroker, hub: LiveHub) {
		this.#broker = broker;
		this.#hub = hub;
	}

	/** A `here` frame of a signed-in socket. */
	onFrame(ws: LiveSocket, frame: HereFrame, now = Date.now()): void {
		const ud = ws.getUserData();
		if ("stop" in frame) {
			this.#stop(ws);
			return;
		}
		ud.here = { lat: frame.lat, lng: frame.lng };
		if (now - ud.hereSentAt >= HERE_EVERY_MS) this.#send(ws, now);
		else this.#pending.add(ws);
	}

	/** Sends what waited for its window (the gateway calls it every second). */
	flush(now = Date.now()): void {
		for (const ws of this.#pending) if (now - ws.getUserData().hereSentAt >= HERE_EVERY_MS) this.#send(ws, now);
	}

	/** A socket closed (after the hub forgot it): its sharing ends with it. */
	closed(ws: LiveSocket): void {
		this.#stop(ws);
	}

	#send(ws: LiveSocket, now: number): void {
		this.#pending.delete(ws);
		const ud = ws.getUserData();
		if (!ud.user || !ud.here) return;
		ud.hereSentAt = now;
		this.#broadcast({ userId: ud.user.id, at: ud.here });
	}

	#stop(ws: LiveSocket): void {
		this.#pending.delete(ws);
		const ud = ws.getUserData();
		if (!ud.user || !ud.here) return;
		ud.here = null;
		for (const other of this.#hub.users.of(ud.user.id)) if (other.getUserData().here) return;
		this.#broadcast({ userId: ud.user.id, at: null });
	}

	#broadcast(update: HereUpdate): void {
		// Every geo node keeps the user's position for the roaming fences it evaluates.
		this.#broker
			.broadcast(HERE_EVENT, update)
			.catch(err => this.#broker.logger.warn({ err: (err as Error).message }, "Shared position not broadcast"));
	}
}
