import { gridDisk } from "h3-js";
import { INTEREST_MIN_INTERVAL_MS, interestChanged, suggestedHz, visibleCount } from "../../../lib/demand.ts";
import { routingCell } from "../cells.ts";
import type { LiveHub } from "../hub.ts";
import { encode } from "../protocol/codec.ts";
import type { LiveSocket } from "../socket.ts";
import type { ClusterDemand } from "./cluster.ts";

export type InterestRates = { res: number; floorHz: number; maxHz: number; minCount: number };

/**
 * Interest frames to this node's vendor sockets: the watchers of the vendor's cell and its ring
 * (the busiest of those seven cells, cluster-wide) and the rate that serves them (lib/demand.ts).
 * The first frame goes once the vendor's cell is known (and the areas around it are asked for);
 * later ones on each tick when the interest changed meaningfully and INTEREST_MIN_INTERVAL_MS
 * passed since the socket's previous frame.
 */
export class VendorInterest {
	/** Interest frames sent. */
	sent = 0;
	readonly #hub: LiveHub;
	readonly #demand: ClusterDemand;
	readonly #rates: InterestRates;
	/** Vendor sockets with a known cell (what follows their ring is released when they close). */
	readonly #tracked = new Set<LiveSocket>();

	constructor(hub: LiveHub, demand: ClusterDemand, rates: InterestRates) {
		this.#hub = hub;
		this.#demand = demand;
		this.#rates = rates;
	}

	/** A vendor's accepted position is in `cell` (called for every one; cheap when the cell did not change). */
	moved(vendorId: string, cell: string): void {
		const ws = this.#hub.vendorSockets.get(vendorId);
		if (!ws) return;
		const ud = ws.getUserData();
		ud.interest ??= { cell: null, ring: [], ringRouting: [], routings: [], sent: null, sentAt: 0 };
		const state = ud.interest;
		if (state.cell === cell) return;
		const previous = state.routings;
		state.cell = cell;
		state.ring = gridDisk(cell, 1);
		state.ringRouting = state.ring.map(c => routingCell(c, this.#rates.res));
		state.routings = [...new Set(state.ringRouting)];
		// The first frame once the areas around it were asked for (the tick leaves it alone until then).
		const first = !this.#tracked.has(ws);
		void this.#demand.followVendor(state.routings).then(() => {
			if (!first) return;
			this.#tracked.add(ws);
			this.#evaluate(ws, Date.now());
		});
		this.#demand.unfollowVendor(previous);
	}

	/** Each second: released where sockets closed, frames where interest changed. */
	tick(now: number): void {
		for (const ws of this.#tracked) {
			const ud = ws.getUserData();
			if (ud.closed) {
				this.#tracked.delete(ws);
				this.#demand.unfollowVendor(ud.interest!.routings, now);
			} else this.#evaluate(ws, now);
		}
	}

	#evaluate(ws: LiveSocket, now: number): void {
		const ud = ws.getUserData();
		const state = ud.interest!;
		if (ud.closed || (state.sent && now - state.sentAt < INTEREST_MIN_INTERVAL_MS)) return;
		let watchers = 0;
		for (let i = 0; i < state.ring.length; i++)
			watchers = Math.max(watchers, this.#demand.fineWatchers(state.ring[i]!, state.ringRouting[i]!));
		const { floorHz, maxHz, minCount } = this.#rates;
		const hz = suggestedHz(watchers, floorHz, maxHz);
		const visible = visibleCount(watchers, minCount);
		if (state.sent && state.sent.watchers === visible && state.sent.suggestedHz === hz) return;
		const next = { watchers: visible, suggestedHz: hz };
		if (!interestChanged(state.sent, next)) return;
		state.sent = next;
		state.sentAt = now;
		ws.send(encode.interest(visible, hz));
		this.sent++;
	}
}
