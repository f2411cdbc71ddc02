import type { ConnectionOptions } from "nats";
import type { Config } from "../../../config/index.ts";
import type { LiveHub } from "../hub.ts";
import { ClusterDemand } from "./cluster.ts";
import { VendorInterest } from "./interest.ts";
import { DemandLink } from "./link.ts";

export type NodeDemandDeps = {
	hub: LiveHub;
	config: Config;
	/** This node's Moleculer nodeID. */
	node: string;
	/** Other live nodes Moleculer's registry knows. */
	otherNodes(): number;
};

/**
 * Demand signals on one live node: the cluster's watcher counts as this node knows them
 * (`live.demand`), their NATS link (with NATS_URL), and the interest frames to its vendor sockets.
 */
export class NodeDemand {
	readonly cluster: ClusterDemand;
	readonly interest: VendorInterest;
	readonly #deps: NodeDemandDeps;
	#link: DemandLink | null = null;

	constructor(deps: NodeDemandDeps) {
		const { hub, config } = deps;
		this.#deps = deps;
		this.cluster = new ClusterDemand({ local: hub.demand, h3Res: config.h3Res, otherNodes: deps.otherNodes });
		this.interest = new VendorInterest(hub, this.cluster, {
			res: config.h3Res,
			floorHz: config.demand.floorHz,
			maxHz: config.positionMaxHz,
			minCount: config.demand.minCount,
		});
	}

	/** Joins the other live nodes' counts over NATS (`options`: the node's servers, credentials and TLS). */
	async connect(options: ConnectionOptions): Promise<void> {
		const { config, node } = this.#deps;
		this.#link = await DemandLink.connect(options, `live-demand-${node}`, {
			node,
			namespace: config.namespace,
			codec: this.cluster.codec,
			onCounts: (routing, counts) => this.cluster.onCounts(routing, counts),
			localCounts: routing => this.cluster.local.area(routing),
		});
		this.cluster.attach(this.#link);
	}

	/** Each second: counts published, stale ones dropped, interest frames where interest changed. */
	tick(now: number): void {
		this.cluster.tick(now);
		this.interest.tick(now);
	}

	stats() {
		return { ...this.cluster.stats(), subjects: this.#link?.subjects ?? [], interestSent: this.interest.sent };
	}

	async check(): Promise<void> {
		await this.#link?.check();
	}

	async close(): Promise<void> {
		await this.#link?.close();
	}
}
