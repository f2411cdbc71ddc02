import { Errors, type ReplOptions, type ServiceBroker } from "moleculer";
import type { Caller } from "../../middlewares/authorization.middleware.ts";
import {
	busiestCells,
	checkCell,
	inboxList,
	inboxReplay,
	kickVendor,
	nearby,
	onlineVendors,
	OpsError,
	parseBBox,
	setVendorStatus,
	socketList,
	socketsReport,
	vendorReport,
} from "./ops.ts";
import { WEBHOOK_SOURCES, type WebhookSource } from "../../services/webhooks/webhooks.service.ts";

/**
 * The operator commands of `npm run repl`, as moleculer-repl custom commands. Each one parses
 * its arguments, calls one function of scripts/repl/ops.ts (which calls the services' actions) and prints
 * a table. Bad arguments print the usage line; errors print one line, never a stack.
 */

type ReplCustomCommand = NonNullable<ReplOptions["customCommands"]>[number];
type Options = Record<string, string | boolean | undefined>;
type Input = { args: string[]; options: Options; operator: Caller };
type Helpers = { table: (rows: unknown[][], config?: object) => string; getBorderCharacters: (name: string) => object; kleur: Record<string, (s: string) => string> };
export type Spec = {
	command: string;
	usage: string;
	description: string;
	options?: { option: string; description: string }[];
	operands: [min: number, max: number];
	run(broker: ServiceBroker, input: Input, out: Output): Promise<void>;
};

class UsageError extends Error {
	override name = "UsageError";
}

/** Prints tables and lines (to the REPL's console unless told otherwise). */
export class Output {
	readonly #helpers: Helpers | null;
	readonly #write: (text: string) => void;
	constructor(helpers: Helpers | null, write: (text: string) => void = text => console.log(text)) {
		this.#helpers = helpers;
		this.#write = write;
	}

	line(text = ""): void {
		this.#write(text);
	}

	/** A table of `rows` with the given columns (key → heading); "(none)" when empty. */
	table<T extends object>(rows: T[], columns: Partial<Record<keyof T & string, string>>, empty = "(none)"): void {
		if (rows.length === 0) return this.line(empty);
		const keys = Object.keys(columns) as (keyof T & string)[];
		const data = [keys.map(k => columns[k]!), ...rows.map(r => keys.map(k => cell(r[k])))];
		if (!this.#helpers) return this.line(data.map(r => r.join("\t")).join("\n"));
		const { table, getBorderCharacters } = this.#helpers;
		this.line(table(data, { border: getBorderCharacters("norc"), drawHorizontalLine: (i: number, n: number) => i <= 1 || i === n }).trimEnd());
	}

	/** Label/value pairs. */
	fields(pairs: [string, unknown][]): void {
		const width = Math.max(...pairs.map(([k]) => k.length));
		for (const [k, v] of pairs) this.line(`${k.padEnd(width)}  ${cell(v)}`);
	}
}

function cell(value: unknown): string {
	if (value === null || value === undefined) return "-";
	// Coordinates keep six decimals (about 10 cm); rates and ages come rounded from scripts/repl/ops.ts.
	if (typeof value === "number") return String(Math.round(value * 1e6) / 1e6);
	if (typeof value === "boolean") return value ? "yes" : "no";
	if (Array.isArray(value)) return value.length === 0 ? "-" : value.join(", ");
	return String(value);
}

function number(text: string | undefined, name: string, { min = -Infinity, max = Infinity, integer = false } = {}): number {
	const n = text === undefined || text.trim() === "" ? NaN : Number(text);
	if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
		throw new UsageError(`${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${text ?? ""}"`);
	}
	return n;
}

const stringOption = (options: Options, name: string): string | undefined => {
	const v = options[name];
	if (v === true) throw new UsageError(`--${name} needs a value`);
	return v === undefined || v === false ? undefined : v;
};

/** A numeric `--name` option, `fallback` when absent. */
const numberOption = (options: Options, name: string, fallback: number, range: Parameters<typeof number>[2]): number => {
	const text = stringOption(options, name);
	return text === undefined ? fallback : number(text, `--${name}`, range);
};

export const REPL_COMMANDS: Spec[] = [
	{
		command: "online",
		usage: "online [--cell <h3>] [--bbox w,s,e,n]",
		description: "Vendors online now, freshest first, with the age of their last position",
		options: [
			{ option: "--cell <h3>", description: "only inside this H3 cell (any resolution)" },
			{ option: "--bbox <w,s,e,n>", description: "only inside this box (degrees)" },
		],
		operands: [0, 0],
		async run(broker, { options }, out) {
			const cell = stringOption(options, "cell");
			const bboxText = stringOption(options, "bbox");
			const rows = await onlineVendors(broker, { ...(cell ? { cell: checkCell(cell) } : {}), ...(bboxText ? { bbox: parseBBox(bboxText) } : {}) });
			out.table(rows, { vendorId: "Vendor", name: "Name", status: "Status", lat: "Lat", lng: "Lng", cell: "Cell", ageS: "Age (s)" }, "No vendor online here.");
			out.line(`${rows.length} online`);
		},
	},
	{
		command: "sockets",
		usage: "sockets [--window <seconds>] | sockets --node <nodeID>",
		description: "Per live gateway node: sockets, watchers, vendors, watched cells and rates, as each node reports them; --node lists one node's sockets and watch sets",
		options: [
			{ option: "--window <seconds>", description: "sampling window for the rates (default 1)" },
			{ option: "--node <nodeID>", description: "list the sockets of this live node" },
		],
		operands: [0, 0],
		async run(broker, { options }, out) {
			const node = stringOption(options, "node");
			if (node !== undefined) {
				const sockets = await socketList(broker, node);
				out.table(sockets, { connId: "Conn", user: "User", vendorId: "Vendor", cells: "Watched cells", buffered: "Buffered (B)", behind: "Behind", slow: "Slow" }, `No socket on ${node}.`);
				out.line(`${sockets.length} socket(s) on ${node}`);
				return;
			}
			const windowS = numberOption(options, "window", 1, { min: 0.1, max: 60 });
			const rows = await socketsReport(broker, { windowMs: windowS * 1000 });
			out.table(
				rows,
				{
					node: "Node",
					sockets: "Sockets",
					watchers: "Watchers",
					vendors: "Vendors",
					watchedCells: "Cells",
					slow: "Slow",
					inPerS: "In/s",
					deliveriesPerS: "Deliveries/s",
					droppedPerS: "Dropped/s",
					routedInPerS: "Routed-in/s",
					positionsIn: "In (total)",
					...(rows.some(r => r.error) ? { error: "Error" } : {}),
				},
				"No live gateway node in the cluster."
			);
		},
	},
	{
		command: "near <lat> <lng> [radius]",
		usage: "near <lat> <lng> [radius]",
		description: "What a customer at this point sees: vendors nearest first (radius in metres, default 1000)",
		operands: [2, 3],
		async run(broker, { args }, out) {
			const lat = number(args[0], "lat", { min: -90, max: 90 });
			const lng = number(args[1], "lng", { min: -180, max: 180 });
			const radius = args[2] === undefined ? 1_000 : number(args[2], "radius", { min: 1, max: 50_000 });
			const rows = await nearby(broker, { lat, lng, radius });
			out.table(rows, { vendorId: "Vendor", name: "Name", distanceM: "Distance (m)", online: "Online", ageS: "Age (s)", categories: "Categories" }, "Nothing within reach.");
		},
	},
	{
		command: "cells",
		usage: "cells [--top <n>]",
		description: "Busiest H3 cells: live vendors (geo) and watchers (every live node)",
		options: [{ option: "--top <n>", description: "how many cells (default 10)" }],
		operands: [0, 0],
		async run(broker, { options }, out) {
			const top = numberOption(options, "top", 10, { min: 1, max: 1000, integer: true });
			out.table(await busiestCells(broker, { top }), { cell: "Cell", vendors: "Vendors", watchers: "Watchers" }, "No vendor online and nobody watching.");
		},
	},
	{
		command: "vendor <id|suspend|resume> [id]",
		usage: "vendor <id> | vendor suspend <id> | vendor resume <id>",
		description: "A vendor's profile, status, subscription, live position and history; suspend or resume it (as an admin, audited)",
		operands: [1, 2],
		async run(broker, { args, operator }, out) {
			const [first, second] = args as [string, string | undefined];
			if (first === "suspend" || first === "resume") {
				if (!second) throw new UsageError(`vendor ${first} needs a vendor id`);
				const change = await setVendorStatus(broker, second, first === "suspend" ? "suspended" : "active", operator);
				out.line(`${change.vendorId} (${change.name}): ${change.previous} → ${change.status} by ${change.by} at ${change.at}`);
				return;
			}
			if (second !== undefined) throw new UsageError(`unknown vendor subcommand "${first}"`);
			const r = await vendorReport(broker, first);
			const v = r.vendor;
			out.fields([
				["id", v.id],
				["name", v.name],
				["status", v.status],
				["owner", r.owner ? `${r.owner.id} (${[r.owner.firstName, r.owner.lastName].filter(Boolean).join(" ") || r.owner.email || "no name"}, ${r.owner.role})` : v.ownerId],
				["categories", v.categories],
				["subscription", `${v.subscription.active ? "active" : "inactive"}${v.subscription.entitlements.length ? ` [${v.subscription.entitlements.join(", ")}]` : ""}${v.subscription.expiresAt ? ` until ${v.subscription.expiresAt}` : ""}`],
				["rating", `${v.rating.average} (${v.rating.count})`],
				["created / updated", `${v.createdAt} / ${v.updatedAt}`],
				["live", r.location ? `${r.location.online ? "online" : "offline"} at ${r.location.lat}, ${r.location.lng} cell ${r.location.cell}, ${r.location.ageS}s ago` : "no position"],
				["socket on", r.socketNodes.length ? r.socketNodes : "no live socket"],
			]);
			out.line("history (newest first):");
			out.table(r.history.slice(0, 10), { time: "Time", lat: "Lat", lng: "Lng", cell: "Cell", ageS: "Age (s)" }, "(no positions)");
		},
	},
	{
		command: "inbox [replay] [id]",
		usage: "inbox [--failed] [--source clerk|revenuecat] [--limit <n>] | inbox replay <id> [--force]",
		description: "Recorded webhook events, newest first; replay one (an applied one only with --force)",
		options: [
			{ option: "--failed", description: "only events that failed to apply" },
			{ option: "--source <source>", description: "clerk or revenuecat" },
			{ option: "--limit <n>", description: "how many (default 20)" },
			{ option: "--force", description: "replay: apply again even if applied" },
		],
		operands: [0, 2],
		async run(broker, { args, options }, out) {
			const columns = { id: "Id", source: "Source", type: "Type", status: "Status", attempts: "Attempts", receivedAt: "Received", appliedAt: "Applied", error: "Error" } as const;
			if (args[0] === "replay") {
				if (!args[1]) throw new UsageError("inbox replay needs an event id (see the Id column of inbox)");
				out.table([await inboxReplay(broker, args[1], { force: options.force === true })], columns);
				return;
			}
			if (args.length > 0) throw new UsageError(`unknown inbox subcommand "${args[0]}"`);
			const source = stringOption(options, "source");
			if (source !== undefined && !(WEBHOOK_SOURCES as readonly string[]).includes(source)) throw new UsageError(`--source must be ${WEBHOOK_SOURCES.join(" or ")}`);
			const limit = numberOption(options, "limit", 20, { min: 1, max: 500, integer: true });
			const rows = await inboxList(broker, { failed: options.failed === true, source: source as WebhookSource | undefined, limit });
			out.table(rows, columns, "No recorded webhook events.");
		},
	},
	{
		command: "kick <vendorId>",
		usage: "kick <vendorId>",
		description: "Close a vendor's live socket (close code 4012 KICKED) on whichever node holds it",
		operands: [1, 1],
		async run(broker, { args }, out) {
			const result = await kickVendor(broker, args[0]!);
			out.line(result.closed ? `Kicked ${result.vendorId} on ${result.nodes.join(", ")}.` : `${result.vendorId} has no live socket right now (kick sent anyway).`);
		},
	},
];

/** One line for an error: what the operator needs, never a stack. */
export function describeError(err: unknown): string {
	if (err instanceof UsageError || err instanceof OpsError) return err.message;
	if (err instanceof Errors.ServiceNotFoundError) {
		const action = (err.data as { action?: string } | undefined)?.action;
		return `Not available: ${action ?? "that service"} is not running in the cluster (see \`services\`).`;
	}
	if (err instanceof Errors.MoleculerError) {
		const fields = Array.isArray(err.data) ? (err.data as { field?: string; message?: string }[]).map(d => d.message ?? d.field).filter(Boolean) : [];
		return `${err.message}${err.type ? ` (${err.type})` : ""}${fields.length ? `: ${fields.join("; ")}` : ""}`;
	}
	return (err as Error)?.message ?? String(err);
}

/** The flags a spec declares, e.g. ["--cell", "--bbox"]. */
const declaredFlags = (spec: Spec) => (spec.options ?? []).map(o => o.option.split(/[\s,]/)[0]!);

/** Splits what commander left over into operands; anything else that looks like a flag is unknown. */
function operandsOf(spec: Spec, rest: string[]): string[] {
	const unknown = rest.find(a => /^-[^\d.]/.test(a));
	if (unknown) throw new UsageError(`unknown option ${unknown}${spec.options?.length ? ` (options: ${declaredFlags(spec).join(", ")})` : ""}`);
	const [min, max] = spec.operands;
	if (rest.length < min) throw new UsageError("missing argument");
	if (rest.length > max) throw new UsageError(`too many arguments: ${rest.slice(max).join(" ")}`);
	return rest;
}

type ParsedCommand = { params?: Omit<Input, "operator">; args: string[]; opts(): Options };

/** Runs one spec with the operator's arguments; every failure ends as one printed line. */
export async function runCommand(spec: Spec, broker: ServiceBroker, raw: Input, out: Output): Promise<boolean> {
	try {
		await spec.run(broker, { ...raw, args: operandsOf(spec, raw.args) }, out);
		return true;
	} catch (err) {
		out.line(`Error: ${describeError(err)}`);
		if (err instanceof UsageError || err instanceof OpsError) out.line(`Usage: ${spec.usage}`);
		return false;
	}
}

/** The custom commands for `replOptions.customCommands`; `operator` is the identity suspend/resume act as. */
export function replCommands(operator: Caller): ReplCustomCommand[] {
	return REPL_COMMANDS.map(spec => {
		return {
			command: spec.command,
			description: `${spec.description}\n  usage: ${spec.usage}`,
			allowUnknownOptions: true,
			options: spec.options ?? [],
			// Our own parsing: commander keeps the declared options, we check the rest.
			parse(command: ParsedCommand) {
				command.params = { args: [...command.args], options: { ...command.opts() } };
			},
			async action(broker: ServiceBroker, params: unknown, helpers: Helpers) {
				await runCommand(spec, broker, { ...(params as Omit<Input, "operator">), operator }, new Output(helpers));
			},
		} as unknown as ReplCustomCommand;
	});
}
