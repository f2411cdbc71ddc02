import { randomUUID } from "node:crypto";
import { connect, RequestStrategy, type ConnectionOptions, type Msg, type NatsConnection, type Subscription } from "nats";
import type { AreaCounts } from "./counts.ts";
import { type AskAnswer, type DemandCodec, encodeAnswer, encodeAsk, encodeCounts, type NodeCounts } from "./message.ts";

/** How long an ask waits for the other live nodes' answers. */
export const ASK_WAIT_MS = 500;

/**
 * Counts messages: `published` and `received` are counts of areas (publications, and answers to
 * this node's asks); `answered` the asks of other nodes this node answered; `rejected` malformed
 * messages ignored.
 */
export type DemandTraffic = { published: number; received: number; answered: number; rejected: number };

export type DemandLinkDeps = {
	/** This node's Moleculer nodeID (what the others key its counts by, and drop when it leaves). */
	node: string;
	namespace: string;
	codec: DemandCodec;
	/** A node's counts of a routing cell this node subscribed to. */
	onCounts(routing: string, counts: NodeCounts): void;
	/** This node's counts of a routing cell (undefined: no watchers here). */
	localCounts(routing: string): AreaCounts | undefined;
};

/**
 * Watcher counts between live nodes over NATS, like CellRouter's positions: one subject per routing
 * cell, `<namespace>.demand.<routing>`, subscribed only where this node needs counts, so the
 * server forwards a node's counts only to the nodes that follow that area. `<namespace>.demand.ask`
 * is answered by every node with its counts of the routing cells asked for (a node that starts
 * following an area need not wait for the next refresh). `noEcho`: a node never hears itself.
 */
export class DemandLink {
	readonly traffic: DemandTraffic = { published: 0, received: 0, answered: 0, rejected: 0 };
	readonly #nc: NatsConnection;
	readonly #deps: DemandLinkDeps;
	readonly #prefix: string;
	readonly #instance = randomUUID().slice(0, 8);
	readonly #subs = new Map<string, Subscription>();
	#seq = 0;

	private constructor(nc: NatsConnection, deps: DemandLinkDeps) {
		this.#nc = nc;
		this.#deps = deps;
		this.#prefix = `${deps.namespace}.demand.`;
		nc.subscribe(`${this.#prefix}ask`, { callback: (err, msg) => err || this.#answer(msg) });
	}

	/** `options`: the node's NATS servers, credentials and TLS (runtime/nats.ts). */
	static async connect(options: ConnectionOptions, name: string, deps: DemandLinkDeps): Promise<DemandLink> {
		const nc = await connect({ ...options, name, noEcho: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
		return new DemandLink(nc, deps);
	}

	subscribe(routing: string): void {
		if (this.#subs.has(routing)) return;
		const sub = this.#nc.subscribe(this.#prefix + routing, {
			callback: (err, msg) => {
				if (err) return;
				this.traffic.received++;
				const counts = this.#deps.codec.counts(msg.data, routing);
				if (counts) this.#deps.onCounts(routing, counts);
				else this.traffic.rejected++;
			},
		});
		this.#subs.set(routing, sub);
	}

	unsubscribe(routing: string): void {
		this.#subs.get(routing)?.unsubscribe();
		this.#subs.delete(routing);
	}

	/** This node's counts of a routing cell to the nodes following it (none: it fell to zero here). */
	publish(routing: string, counts: AreaCounts | undefined): void {
		this.#nc.publish(this.#prefix + routing, encodeCounts(this.#deps.node, this.#instance, ++this.#seq, counts));
		this.traffic.published++;
	}

	/** Asks the other live nodes (`expected` of them) for their counts of `routings`; the answers that came within ASK_WAIT_MS. */
	async ask(routings: string[], expected: number): Promise<AskAnswer[]> {
		if (expected === 0 || routings.length === 0 || this.#nc.isClosed()) return [];
		const asked = new Set(routings);
		const answers: AskAnswer[] = [];
		try {
			const replies = await this.#nc.requestMany(`${this.#prefix}ask`, encodeAsk(routings), {
				strategy: RequestStrategy.Count,
				maxMessages: expected,
				maxWait: ASK_WAIT_MS,
			});
			for await (const msg of replies) {
				this.traffic.received++;
				const answer = this.#deps.codec.answer(msg.data, asked);
				if (answer) answers.push(answer);
				else this.traffic.rejected++;
			}
		} catch {
			// No responders, or NATS away: the areas fill in with the next refresh.
		}
		return answers;
	}

	/** Whether NATS answers now, for readiness. */
	async check(): Promise<void> {
		if (this.#nc.isClosed()) throw new Error("demand connection closed");
		await this.#nc.flush();
	}

	get subjects(): string[] {
		return [...this.#subs.keys()];
	}

	async close(): Promise<void> {
		await this.#nc.drain().catch(() => this.#nc.close());
	}

	#answer(msg: Msg): void {
		const routings = this.#deps.codec.ask(msg.data);
		if (!routings || !msg.reply) {
			this.traffic.rejected++;
			return;
		}
		const areas: { routing: string; seq: number; counts: AreaCounts }[] = [];
		for (const routing of routings) {
			const counts = this.#deps.localCounts(routing);
			if (counts) areas.push({ routing, seq: ++this.#seq, counts });
		}
		msg.respond(encodeAnswer(this.#deps.node, this.#instance, areas));
		this.traffic.answered++;
	}
}
