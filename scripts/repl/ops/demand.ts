import { cellToParent, getResolution } from "h3-js";
import type { ServiceBroker } from "moleculer";
import { demandLevels } from "../../../lib/demand.ts";
import type { BBox } from "../../../lib/geo.ts";
import type { Caller } from "../../../lib/identity.ts";
import type { CellWatchers, DemandCounts, DemandCountsParams } from "../../../services/discovery/contract.ts";
import { asOperator } from "./common.ts";
import { sampleLive } from "./live.ts";

/** Where customers look: watchers per cell, raw (operators see every count; the privacy threshold is for vendors). */

export const DEMAND_LEVELS = ["fine", "coarse"] as const;
export type DemandLevel = (typeof DEMAND_LEVELS)[number];

export type DemandReport = {
	rows: CellWatchers[];
	/** The H3 resolution of the rows; null when no cell is watched (nothing tells the level then). */
	res: number | null;
	/**
	 * What `watchers` counts. "sockets": sockets watching the cell (any cell inside it, at the
	 * coarse level). "fine watches": at the coarse level without a box, the sum of the fine cells'
	 * counts, so a socket watching several fine cells of one coarse cell counts once per fine cell.
	 */
	counts: "sockets" | "fine watches";
	/** Live nodes whose counts are in the rows. */
	nodes: number;
	/** Live nodes that did not answer. */
	failed: string[];
};

const busiest = (cells: Iterable<[string, number]>, top: number): CellWatchers[] =>
	[...cells]
		.map(([cell, watchers]) => ({ cell, watchers }))
		.sort((a, b) => b.watchers - a.watchers || a.cell.localeCompare(b.cell))
		.slice(0, top);

/** Without a box: every live node's own counts of the cells its sockets watch (`live.stats`), summed; coarse by each cell's parent. */
async function clusterWide(broker: ServiceBroker, level: DemandLevel, top: number): Promise<DemandReport> {
	const samples = await sampleLive(broker, { cells: true });
	const sums = new Map<string, number>();
	let res: number | null = null;
	for (const { cell, watchers } of samples.flatMap(s => s.stats?.cellWatchers ?? [])) {
		const fine = getResolution(cell);
		const key = level === "fine" ? cell : cellToParent(cell, demandLevels(fine).coarse);
		res = getResolution(key);
		sums.set(key, (sums.get(key) ?? 0) + watchers);
	}
	return {
		rows: busiest(sums, top),
		res,
		counts: level === "fine" ? "sockets" : "fine watches",
		nodes: samples.filter(s => s.stats).length,
		failed: samples.filter(s => !s.stats).map(s => s.node),
	};
}

/** With a box: `live.demand` as the operator (one live node answers for the cluster); coarse is asked at the level below the fine one it reports. */
async function inBox(broker: ServiceBroker, operator: Caller, bbox: BBox, level: DemandLevel, top: number): Promise<DemandReport> {
	const ask = (res?: number) =>
		broker.call<DemandCounts, DemandCountsParams>("live.demand", { bbox, ...(res === undefined ? {} : { res }) }, asOperator(operator));
	const fine = await ask();
	const answer = level === "fine" ? fine : await ask(demandLevels(fine.res).coarse);
	return {
		rows: busiest(
			answer.cells.map(c => [c.cell, c.watchers]),
			top
		),
		res: answer.res,
		counts: "sockets",
		nodes: answer.nodes,
		failed: [],
	};
}

/** `demand`: the busiest cells by watchers, cluster-wide or inside a box, at the fine or the coarse level. */
export function busiestDemand(
	broker: ServiceBroker,
	operator: Caller,
	{ bbox, level = "fine", top = 10 }: { bbox?: BBox; level?: DemandLevel; top?: number }
): Promise<DemandReport> {
	return bbox ? inBox(broker, operator, bbox, level, top) : clusterWide(broker, level, top);
}
