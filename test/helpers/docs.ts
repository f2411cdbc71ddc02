import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./process.ts";

/** A document of docs/ as text. */
export const doc = (name: string): string => readFileSync(join(ROOT, "docs", name), "utf8");

/**
 * The rows of the markdown table that follows `heading` (a heading or any phrase) in `text`: one string array per row,
 * cells trimmed and without backticks.
 */
export function tableAfter(text: string, heading: string): string[][] {
	const start = text.indexOf(heading);
	if (start < 0) throw new Error(`no "${heading}" in the document`);
	const lines = text.slice(start).split("\n");
	const first = lines.findIndex(l => l.startsWith("|"));
	const rows: string[][] = [];
	for (const line of lines.slice(first + 2)) {
		if (!line.startsWith("|")) break;
		rows.push(
			line
				.slice(1, -1)
				.split(/(?<!\\)\|/)
				.map(c => c.trim().replace(/`/g, ""))
		);
	}
	return rows;
}
