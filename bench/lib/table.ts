/** The one table a run prints (and keeps in results.json): a row per figure, its comparison, target and verdict. */
import { isShort } from "./checks.ts";
import { fmt, summarize, type Summary } from "./stats.ts";

export type Row = { figure: string; venta: string; comparison: string; ratio: string; target: string; result: string };

/** A figure over the rounds of a list (empty or missing: n/a). */
export const med = <T>(list: readonly T[] | undefined, pick: (x: T) => number): Summary => summarize((list ?? []).map(pick));

/** met / missed, or — when the figure was not measured. */
export const verdict = (ok: boolean | undefined): string => (ok === undefined ? "—" : ok ? "met" : "missed");

/** A ratio against its ceiling; undefined (—) when either side is missing. */
export const atMost = (ratio: number, max: number): boolean | undefined => (Number.isFinite(ratio) ? ratio <= max : undefined);

/** Marks a figure whose deliveries (or positions, snapshots) fell short. */
export const shortMark = (total: { ratio: number } | undefined): string =>
	total && isShort(total) ? ` (SHORT: only ${fmt(total.ratio * 100, 1)}%)` : "";

export function printTable(rows: Row[]): void {
	const cols: (keyof Row)[] = ["figure", "venta", "comparison", "ratio", "target", "result"];
	const head: Row = { figure: "Figure", venta: "Venta", comparison: "Comparison", ratio: "Ratio", target: "Target", result: "Result" };
	const widths = cols.map(c => Math.max(head[c].length, ...rows.map(r => r[c].length)));
	const line = (r: Row) => `| ${cols.map((c, i) => r[c].padEnd(widths[i]!)).join(" | ")} |`;
	process.stdout.write(`\n${line(head)}\n|${widths.map(w => "-".repeat(w + 2)).join("|")}|\n${rows.map(line).join("\n")}\n\n`);
}
