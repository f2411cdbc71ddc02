import { demandLevels } from "../../../lib/demand.ts";
import type { BBox } from "../../../lib/geo.ts";
import type { DemandCounts } from "../../../services/discovery/contract.ts";
import { DEMAND_REFRESH_MS, DemandBoard } from "./board.ts";
import type { AreaCounts, LocalDemand } from "./counts.ts";
import type { DemandLink } from "./link.ts";
import { ASK_MAX_ROUTING_CELLS, DemandCodec, type NodeCounts } from "./message.ts";
import { boxRoutingCells, sumInBox } from "./query.ts";

/** A routing cell `live.demand` asked for is followed this long after the last such query. */
export const QUERY_FOLLOW_MS = 60_000;

/** Why this node follows a routing cell: vendor sockets whose ring touches it, a recent query; the ask still under way. */
type Follow = { vendors: number; queriedUntil: number; ready: Promise<number> | null };

export type ClusterDemandDeps = {
	local: LocalDemand;
	h3Res: number;
	/** Other live nodes Moleculer's registry knows (how many answers an ask waits for). */
	otherNodes(): number;
};

/**
 * What this node knows of the cluster's watchers: its own counts, published over the DemandLink
 * (on change at most once a tick, every routing cell with watchers every DEMAND_REFRESH_MS), and
 * the board of the other nodes' counts for the routing cells it follows. Without NATS: its own
 * counts only.
 */
export class ClusterDemand {
	readonly local: LocalDemand;
	readonly board = new DemandBoard();
	readonly codec: DemandCodec;
	readonly #deps: ClusterDemandDeps;
	readonly #fineRes: number;
	readonly #follows = new Map<string, Follow>();
	#link: DemandLink | null = null;
	#refreshedAt = 0;

	constructor(deps: ClusterDemandDeps) {
		this.#deps = deps;
		this.local = deps.local;
		this.codec = new DemandCodec(deps.h3Res);
		this.#fineRes = demandLevels(deps.h3Res).fine;
	}

	attach(link: DemandLink): void {
		this.#link = link;
	}

	/** Watchers per cell of the box at `res` (the fine or the coarse level), waiting (bounded) for the asks of areas not followed yet. */
	async counts(bbox: BBox, res: number, now = Date.now()): Promise<DemandCounts> {
		const routings = boxRoutingCells(bbox, this.#deps.h3Res);
		const pending = this.#follow(routings, follow => (follow.queriedUntil = now + QUERY_FOLLOW_MS));
		const answers = await Promise.all(pending);
		const areas: AreaCounts[] = [];
		for (const routing of routings) {
			const mine = this.local.area(routing);
			if (mine) areas.push(mine);
			areas.push(...this.board.counts(routing));
		}
		const others = !this.#link ? 0 : answers.length > 0 ? Math.min(...answers) : this.#deps.otherNodes();
		return { bbox, res, cells: sumInBox(bbox, res === this.#fineRes ? "fine" : "coarse", areas), nodes: 1 + others };
	}

	/** A vendor socket's ring touches these routing cells: follow them (resolves once their asks are answered). */
	async followVendor(routings: readonly string[]): Promise<void> {
		await Promise.all(this.#follow(routings, follow => follow.vendors++));
	}

	unfollowVendor(routings: readonly string[], now = Date.now()): void {
		for (const routing of routings) {
			const follow = this.#follows.get(routing);
			if (follow && --follow.vendors <= 0) this.#dropIfIdle(routing, follow, now);
		}
	}

	/** Watchers of a fine cell across the cluster, as this node knows them (`routing`: the cell's routing cell). */
	fineWatchers(cell: string, routing: string): number {
		return this.local.fineCount(cell) + this.board.fineCount(routing, cell);
	}

	/** A node's counts arrived on a routing subject. */
	onCounts(routing: string, { node, instance, seq, counts }: NodeCounts): void {
		if (this.#follows.has(routing)) this.board.merge(routing, node, instance, seq, counts, Date.now());
	}

	/** A node left the mesh (Moleculer `$node.disconnected`). */
	nodeLeft(node: string): void {
		this.board.dropNode(node);
	}

	/** Every second: what changed goes out (everything with watchers each refresh), stale counts and idle follows go. */
	tick(now: number): void {
		const due = new Set(this.local.takeChanged());
		const link = this.#link;
		if (!link) return;
		if (now - this.#refreshedAt >= DEMAND_REFRESH_MS) {
			this.#refreshedAt = now;
			for (const routing of this.local.routingCells()) due.add(routing);
		}
		for (const routing of due) link.publish(routing, this.local.area(routing));
		this.board.expire(now);
		for (const [routing, follow] of this.#follows) this.#dropIfIdle(routing, follow, now);
	}

	stats() {
		return {
			follows: this.#follows.size,
			boardNodes: this.board.nodes,
			...(this.#link?.traffic ?? { published: 0, received: 0, answered: 0, rejected: 0 }),
		};
	}

	/** Marks the routing cells followed (subscribing and asking for those new); the asks still under way. */
	#follow(routings: readonly string[], mark: (follow: Follow) => void): Promise<number>[] {
		const link = this.#link;
		if (!link) return [];
		const fresh: string[] = [];
		for (const routing of routings) {
			let follow = this.#follows.get(routing);
			if (!follow) {
				follow = { vendors: 0, queriedUntil: 0, ready: null };
				this.#follows.set(routing, follow);
				link.subscribe(routing);
				fresh.push(routing);
			}
			mark(follow);
		}
		for (let i = 0; i < fresh.length; i += ASK_MAX_ROUTING_CELLS) this.#ask(link, fresh.slice(i, i + ASK_MAX_ROUTING_CELLS));
		const pending = new Set<Promise<number>>();
		for (const routing of routings) {
			const ready = this.#follows.get(routing)?.ready;
			if (ready) pending.add(ready);
		}
		return [...pending];
	}

	/** Asks the other nodes for their counts of newly followed routing cells; resolves with how many answered. */
	#ask(link: DemandLink, routings: string[]): void {
		const ready = link.ask(routings, this.#deps.otherNodes()).then(answers => {
			const now = Date.now();
			for (const { node, instance, areas } of answers)
				for (const area of areas)
					if (this.#follows.has(area.routing)) this.board.merge(area.routing, node, instance, area.seq, area.counts, now);
			for (const routing of routings) {
				const follow = this.#follows.get(routing);
				if (follow?.ready === ready) follow.ready = null;
			}
			return answers.length;
		});
		for (const routing of routings) this.#follows.get(routing)!.ready = ready;
	}

	#dropIfIdle(routing: string, follow: Follow, now: number): void {
		if (follow.vendors > 0 || follow.queriedUntil > now) return;
		this.#follows.delete(routing);
		this.#link?.unsubscribe(routing);
		this.board.forget(routing);
	}
}
