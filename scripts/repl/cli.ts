import { Errors, type ReplOptions, type ServiceBroker } from "moleculer";
import type { Caller } from "../../lib/identity.ts";
import { OpsError } from "./ops/common.ts";

/**
 * How an operator command runs inside moleculer-repl: its spec, argument parsing, the printed
 * table, and one printed line for every failure (usage or error, never a stack).
 */

type ReplCustomCommand = NonNullable<ReplOptions["customCommands"]>[number];
export type Options = Record<string, string | boolean | undefined>;
export type Input = { args: string[]; options: Options; operator: Caller };
type Helpers = {
	table: (rows: unknown[][], config?: object) => string;
	getBorderCharacters: (name: string) => object;
	kleur: Record<string, (s: string) => string>;
};
export type Spec = {
	command: string;
	usage: string;
	description: string;
	options?: { option: string; description: string }[];
	operands: [min: number, max: number];
	run(broker: ServiceBroker, input: Input, out: Output): Promise<void>;
};

export class UsageError extends Error {
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
		if (rows.length === 0) {
			this.line(empty);
			return;
		}
		const keys = Object.keys(columns) as (keyof T & string)[];
		const data = [keys.map(k => columns[k]!), ...rows.map(r => keys.map(k => cell(r[k])))];
		if (!this.#helpers) {
			this.line(data.map(r => r.join("\t")).join("\n"));
			return;
		}
		const { table, getBorderCharacters } = this.#helpers;
		this.line(
			table(data, { border: getBorderCharacters("norc"), drawHorizontalLine: (i: number, n: number) => i <= 1 || i === n }).trimEnd()
		);
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

export function number(text: string | undefined, name: string, { min = -Infinity, max = Infinity, integer = false } = {}): number {
	const n = text === undefined || text.trim() === "" ? NaN : Number(text);
	if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
		throw new UsageError(`${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${text ?? ""}"`);
	}
	return n;
}

export const stringOption = (options: Options, name: string): string | undefined => {
	const v = options[name];
	if (v === true) throw new UsageError(`--${name} needs a value`);
	return v === undefined || v === false ? undefined : v;
};

/** A numeric `--name` option, `fallback` when absent. */
export const numberOption = (options: Options, name: string, fallback: number, range: Parameters<typeof number>[2]): number => {
	const text = stringOption(options, name);
	return text === undefined ? fallback : number(text, `--${name}`, range);
};

/** One line for an error: what the operator needs, never a stack. */
export function describeError(err: unknown): string {
	if (err instanceof UsageError || err instanceof OpsError) return err.message;
	if (err instanceof Errors.ServiceNotFoundError) {
		const action = (err.data as { action?: string } | undefined)?.action;
		return `Not available: ${action ?? "that service"} is not running in the cluster (see \`services\`).`;
	}
	if (err instanceof Errors.MoleculerError) {
		const fields = Array.isArray(err.data)
			? (err.data as { field?: string; message?: string }[]).map(d => d.message ?? d.field).filter(Boolean)
			: [];
		return `${err.message}${err.type ? ` (${err.type})` : ""}${fields.length ? `: ${fields.join("; ")}` : ""}`;
	}
	return (err as Error)?.message ?? String(err);
}

/** The flags a spec declares, e.g. ["--cell", "--bbox"]. */
const declaredFlags = (spec: Spec) => (spec.options ?? []).map(o => o.option.split(/[\s,]/)[0]!);

/** Splits what commander left over into operands; anything else that looks like a flag is unknown. */
function operandsOf(spec: Spec, rest: string[]): string[] {
	const unknown = rest.find(a => /^-[^\d.]/.test(a));
	if (unknown)
		throw new UsageError(`unknown option ${unknown}${spec.options?.length ? ` (options: ${declaredFlags(spec).join(", ")})` : ""}`);
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
export function replCommands(specs: Spec[], operator: Caller): ReplCustomCommand[] {
	return specs.map(spec => {
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
