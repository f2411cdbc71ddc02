import type { LiveSocket } from "./socket.ts";

const NONE: ReadonlySet<LiveSocket> = new Set();

/**
 * This node's signed-in sockets by user id: the alert frames of a user go to all of theirs. A
 * socket enters when it is signed in (at its upgrade or by its first `auth` frame; a refresh keeps
 * its user) and leaves when it closes, however it closes.
 */
export class UserSockets {
	readonly #byUser = new Map<string, Set<LiveSocket>>();
	/** Alert frames handed to sockets. */
	alertsSent = 0;

	/** The socket is signed in (again: nothing changes). */
	add(ws: LiveSocket): void {
		const userId = ws.getUserData().user?.id;
		if (!userId) return;
		const set = this.#byUser.get(userId) ?? new Set();
		this.#byUser.set(userId, set);
		set.add(ws);
	}

	remove(ws: LiveSocket): void {
		const userId = ws.getUserData().user?.id;
		const set = userId ? this.#byUser.get(userId) : undefined;
		if (!set?.delete(ws) || set.size > 0) return;
		this.#byUser.delete(userId!);
	}

	of(userId: string): ReadonlySet<LiveSocket> {
		return this.#byUser.get(userId) ?? NONE;
	}

	/** Sends `frame` (serialised once by the caller) to every open socket of the user; how many took it. */
	send(userId: string, frame: string): number {
		let sent = 0;
		for (const ws of this.of(userId)) {
			if (ws.getUserData().closed) continue;
			// 2 = dropped over the backpressure limit: that socket is too far behind to take it.
			ws.cork(() => {
				if (ws.send(frame) !== 2) sent++;
			});
		}
		this.alertsSent += sent;
		return sent;
	}
}
