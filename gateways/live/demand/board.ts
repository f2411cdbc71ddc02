import type { AreaCounts } from "./counts.ts";

/** Every node re-publishes the routing cells it has watchers in this often (late subscribers, expiry). */
export const DEMAND_REFRESH_MS = 5_000;
/** A node's counts of a routing cell not heard of for this long are dropped (three refreshes missed). */
export const DEMAND_EXPIRY_MS = 3 * DEMAND_REFRESH_MS;

type Entry = { instance: string; seq: number; at: number; counts: AreaCounts };

/**
 * The other live nodes' counts of the routing cells this node follows: per (routing cell, node) the
 * newest message of that node's process (a lower sequence of the same process is an older
 * message arriving late; another process of the node is its restart). Dropped when the node
 * leaves, when this node stops following the routing cell, or when not refreshed in time.
 */
export class DemandBoard {
	readonly #areas = new Map<string, Map<string, Entry>>();

	/** Takes a node's counts of a routing cell; false when it is older than what the board holds. */
	merge(routing: string, node: string, instance: string, seq: number, counts: AreaCounts, now: number): boolean {
		let nodes = this.#areas.get(routing);
		const known = nodes?.get(node);
		if (known && known.instance === instance && known.seq >= seq) return false;
		if (!nodes) {
			nodes = new Map();
			this.#areas.set(routing, nodes);
		}
		nodes.set(node, { instance, seq, at: now, counts });
		return true;
	}

	/** The other nodes' counts under a routing cell. */
	*counts(routing: string): Generator<AreaCounts> {
		for (const entry of this.#areas.get(routing)?.values() ?? []) yield entry.counts;
	}

	/** Watchers of a fine cell on the other nodes. */
	fineCount(routing: string, cell: string): number {
		const nodes = this.#areas.get(routing);
		if (!nodes) return 0;
		let n = 0;
		for (const entry of nodes.values()) n += entry.counts.fine.get(cell) ?? 0;
		return n;
	}

	/** A node left the mesh: its counts go. */
	dropNode(node: string): void {
		for (const [routing, nodes] of this.#areas) if (nodes.delete(node) && nodes.size === 0) this.#areas.delete(routing);
	}

	/** This node no longer follows a routing cell. */
	forget(routing: string): void {
		this.#areas.delete(routing);
	}

	/** Drops counts not refreshed within DEMAND_EXPIRY_MS. */
	expire(now: number): void {
		for (const [routing, nodes] of this.#areas) {
			for (const [node, entry] of nodes) if (now - entry.at > DEMAND_EXPIRY_MS) nodes.delete(node);
			if (nodes.size === 0) this.#areas.delete(routing);
		}
	}

	/** Nodes whose counts the board holds, over every routing cell. */
	get nodes(): number {
		const nodes = new Set<string>();
		for (const area of this.#areas.values()) for (const node of area.keys()) nodes.add(node);
		return nodes.size;
	}
}
