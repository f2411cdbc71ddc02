import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./process.ts";

type Target = { expr?: string; datasource?: { uid?: string } };
export type Panel = { type: string; title: string; datasource?: { uid?: string }; targets?: Target[]; panels?: Panel[] };
type Variable = { name: string; type: string; query: string | { query: string }; current?: { value?: string } };
export type Dashboard = { uid: string; panels: Panel[]; templating: { list: Variable[] } };

export const DASHBOARD_PATH = "observe/grafana/dashboards/venta.json";
export const readDashboard = (): Dashboard => JSON.parse(readFileSync(join(ROOT, DASHBOARD_PATH), "utf8")) as Dashboard;

/** Every panel, those inside rows too. */
export const allPanels = (panels: Panel[]): Panel[] => panels.flatMap(p => [p, ...allPanels(p.panels ?? [])]);

/** The PromQL of every panel query. */
export const panelQueries = (dashboard: Dashboard): string[] =>
	allPanels(dashboard.panels).flatMap(p => (p.targets ?? []).map(t => t.expr).filter((e): e is string => e !== undefined));

/** The metrics of the template variables' `label_values(metric{…}, label)` queries. */
export const variableMetrics = (dashboard: Dashboard): string[] =>
	dashboard.templating.list
		.filter(v => v.type === "query")
		.map(v => (typeof v.query === "string" ? v.query : v.query.query))
		.map(q => /^label_values\(\s*([A-Za-z_:][\w:]*)/.exec(q)?.[1] ?? `(not a label_values query: ${q})`);

const KEYWORDS = new Set([
	"by",
	"without",
	"on",
	"ignoring",
	"group_left",
	"group_right",
	"bool",
	"and",
	"or",
	"unless",
	"offset",
	"inf",
	"nan",
]);
const IDENTIFIER = /(?<![\w.:])([A-Za-z_:][\w:]*)\s*(\()?/g;

/** PromQL without string literals, label matchers, range selectors and grouping label lists: what is left names metrics and functions. */
const skeleton = (expr: string): string =>
	expr
		.replace(/"(?:[^"\\]|\\.)*"/g, '""')
		.replace(/\{[^}]*\}/g, " ")
		.replace(/\[[^\]]*\]/g, " ")
		.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");

/** The metric names a PromQL expression selects: identifiers that are neither a function (followed by `(`) nor a keyword. */
export function metricNames(expr: string): string[] {
	const names = new Set<string>();
	for (const [, name, call] of skeleton(expr).matchAll(IDENTIFIER)) if (!call && !KEYWORDS.has(name!.toLowerCase())) names.add(name!);
	return [...names];
}

/** The metrics an expression takes a rate of (`rate`, `irate`, `increase` applied to a selector directly). */
export function ratedMetrics(expr: string): string[] {
	return [...skeleton(expr).matchAll(/\b(?:rate|irate|increase)\(\s*([A-Za-z_:][\w:]*)/g)].map(m => m[1]!);
}

/** What Prometheus text says: the sample names, and the `# TYPE` of each metric family. */
export function parseExposition(text: string): { samples: Set<string>; types: Map<string, string> } {
	const samples = new Set<string>();
	const types = new Map<string, string>();
	for (const line of text.split("\n")) {
		const type = /^# TYPE (\S+) (\S+)$/.exec(line);
		if (type) types.set(type[1]!, type[2]!);
		else if (line && !line.startsWith("#")) samples.add(/^[^{\s]+/.exec(line)![0]);
	}
	return { samples, types };
}
