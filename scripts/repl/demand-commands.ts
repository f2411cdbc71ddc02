import { numberOption, stringOption, UsageError, type Spec } from "./cli.ts";
import { parseBBox } from "./ops/common.ts";
import { busiestDemand, DEMAND_LEVELS, type DemandLevel } from "./ops/demand.ts";

/** The REPL's `demand`: where customers are looking (raw watcher counts; the REST heatmap hides small ones). */
export const DEMAND_COMMANDS: Spec[] = [
	{
		command: "demand",
		usage: "demand [--bbox w,s,e,n] [--res fine|coarse] [--top <n>]",
		description: "Busiest H3 cells by watchers, cluster-wide (each live node's counts, summed) or inside a box (live.demand), raw counts",
		options: [
			{ option: "--bbox <w,s,e,n>", description: "only inside this box (degrees), as one live node knows the cluster's counts" },
			{ option: "--res <level>", description: "fine (H3_RES, default) or coarse (two resolutions coarser)" },
			{ option: "--top <n>", description: "how many cells (default 10)" },
		],
		operands: [0, 0],
		async run(broker, { options, operator }, out) {
			const level = stringOption(options, "res") ?? "fine";
			if (!(DEMAND_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--res must be ${DEMAND_LEVELS.join(" or ")}`);
			const top = numberOption(options, "top", 10, { min: 1, max: 1000, integer: true });
			const bboxText = stringOption(options, "bbox");
			const report = await busiestDemand(broker, operator, {
				level: level as DemandLevel,
				top,
				...(bboxText ? { bbox: parseBBox(bboxText) } : {}),
			});
			const heading = report.counts === "sockets" ? "Watchers" : "Watches (sum of fine cells)";
			out.table(report.rows, { cell: "Cell", watchers: heading }, "Nobody is watching.");
			const where = report.res === null ? "" : ` at res ${report.res}`;
			out.line(`${report.rows.length} cell(s)${where}, counts of ${report.nodes} live node(s)`);
			if (report.counts === "fine watches")
				out.line("A socket watching several fine cells of one coarse cell counts once per fine cell; --bbox counts sockets.");
			if (report.failed.length > 0) out.line(`Not answering: ${report.failed.join(", ")}`);
		},
	},
];
