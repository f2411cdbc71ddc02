import { demandLevels } from "../../../lib/demand.ts";
import type { BBox } from "../../../lib/geo.ts";
import type { DemandCounts } from "../../../services/discovery/contract.ts";
import type { AreaCounts, LocalDemand } from "./counts.ts";
import { boxRoutingCells, sumInBox } from "./query.ts";

/** What this node knows of the cluster's watchers: its own counts (and, over NATS, the other nodes'). */
export class ClusterDemand {
	readonly local: LocalDemand;
	readonly #h3Res: number;
	readonly #fineRes: number;

	constructor(local: LocalDemand, h3Res: number) {
		this.local = local;
		this.#h3Res = h3Res;
		this.#fineRes = demandLevels(h3Res).fine;
	}

	/** Watchers per cell of the box at `res` (the fine or the coarse level). */
	async counts(bbox: BBox, res: number): Promise<DemandCounts> {
		const routings = boxRoutingCells(bbox, this.#h3Res);
		const areas: AreaCounts[] = [];
		for (const routing of routings) {
			const area = this.local.area(routing);
			if (area) areas.push(area);
		}
		return { bbox, res, cells: sumInBox(bbox, res === this.#fineRes ? "fine" : "coarse", areas), nodes: 1 };
	}
}
