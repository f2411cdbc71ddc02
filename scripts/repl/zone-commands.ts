import type { Transition } from "../../services/alerts/contract.ts";
import { numberOption, stringOption, UsageError, type Spec } from "./cli.ts";
import { parsePoints, zoneAdd, zoneList, zoneRemove } from "./ops/zones.ts";

const COLUMNS = { id: "Id", name: "Name", points: "Points", on: "On", dwellS: "Dwell (s)", createdAt: "Created" } as const;
const TRANSITIONS: Transition[] = ["enter", "exit", "dwell"];

/** The REPL's zone commands (operators' named polygons: docs/alerts.md). */
export const ZONE_COMMANDS: Spec[] = [
	{
		command: "zones",
		usage: "zones",
		description: "Operators' zones, oldest first",
		operands: [0, 0],
		async run(broker, { operator }, out) {
			out.table(await zoneList(broker, operator), COLUMNS, "No zones.");
		},
	},
	{
		command: "zone <add|rm> <arg> [points]",
		usage: "zone add <name> <lng,lat;lng,lat;...> [--on enter,exit,dwell] [--dwell <seconds>] | zone rm <id>",
		description: "Add a zone (a named polygon; on enter and exit unless --on says otherwise) or remove one",
		options: [
			{ option: "--on <transitions>", description: "comma-separated: enter, exit, dwell (default enter,exit)" },
			{ option: "--dwell <seconds>", description: "with dwell: how long a vendor stays inside before it counts" },
		],
		operands: [2, 3],
		async run(broker, { args, options, operator }, out) {
			const [sub, first, second] = args as [string, string, string | undefined];
			if (sub === "rm") {
				if (second !== undefined) throw new UsageError(`too many arguments: ${second}`);
				await zoneRemove(broker, operator, first);
				out.line(`Removed zone ${first}.`);
				return;
			}
			if (sub !== "add") throw new UsageError(`unknown zone subcommand "${sub}"`);
			if (second === undefined) throw new UsageError("zone add needs a name and the points");
			const on = (stringOption(options, "on") ?? "enter,exit").split(",") as Transition[];
			if (!on.every(t => TRANSITIONS.includes(t))) throw new UsageError(`--on takes ${TRANSITIONS.join(", ")}`);
			const dwellS = options.dwell === undefined ? undefined : numberOption(options, "dwell", 0, { min: 1, max: 86_400, integer: true });
			const zone = await zoneAdd(broker, operator, { name: first, points: parsePoints(second), on, ...(dwellS ? { dwellS } : {}) });
			out.table([zone], COLUMNS);
		},
	},
];
