import { DOMAIN_EVENTS } from "../../lib/events.ts";
import type { DeliveryStatus } from "../../services/outbound/contract.ts";
import { numberOption, stringOption, UsageError, type Options, type Spec } from "./cli.ts";
import { deliveryList, deliveryReplay, hookAdd, hookList, hookRemove } from "./ops/outbound.ts";

const ENDPOINT_COLUMNS = { id: "Id", url: "URL", events: "Events", enabled: "Enabled", createdAt: "Created", createdBy: "By" } as const;
const DELIVERY_COLUMNS = {
	id: "Id",
	endpointId: "Endpoint",
	event: "Event",
	status: "Status",
	attempts: "Attempts",
	nextAttemptAt: "Next attempt",
	lastError: "Last error",
	createdAt: "Created",
} as const;

/** `--pending`, `--failed` (retrying) or `--dead`: at most one. */
function statusOption(options: Options): DeliveryStatus | undefined {
	const chosen = (["pending", "failed", "dead"] as const).filter(flag => options[flag] === true);
	if (chosen.length > 1) throw new UsageError("give one of --pending, --failed, --dead");
	return chosen[0] === "failed" ? "retrying" : chosen[0];
}

/** The REPL's outbound webhook commands (docs/alerts.md#delivery-outbound-webhooks). */
export const OUTBOUND_COMMANDS: Spec[] = [
	{
		command: "hooks",
		usage: "hooks",
		description: "Outbound webhook endpoints, oldest first (never their secrets)",
		operands: [0, 0],
		async run(broker, { operator }, out) {
			out.table(await hookList(broker, operator), ENDPOINT_COLUMNS, "No webhook endpoints.");
		},
	},
	{
		command: "hook <add|rm> <arg> [events]",
		usage: "hook add <url> <event,event,...> | hook rm <id>",
		description: "Add an outbound webhook endpoint for these domain events (its secret is printed once) or remove one",
		operands: [2, 3],
		async run(broker, { args, operator }, out) {
			const [sub, first, second] = args as [string, string, string | undefined];
			if (sub === "rm") {
				if (second !== undefined) throw new UsageError(`too many arguments: ${second}`);
				await hookRemove(broker, operator, first);
				out.line(`Removed webhook endpoint ${first}.`);
				return;
			}
			if (sub !== "add") throw new UsageError(`unknown hook subcommand "${sub}"`);
			const events = (second ?? "").split(",").filter(Boolean);
			const unknown = events.filter(e => !(DOMAIN_EVENTS as readonly string[]).includes(e));
			if (events.length === 0 || unknown.length > 0)
				throw new UsageError(
					`events must be domain events, e.g. location.proximity_alert${unknown.length ? `; unknown: ${unknown.join(", ")}` : ""}`
				);
			const created = await hookAdd(broker, operator, { url: first, events });
			out.table([{ ...created, events: created.events.join(",") }], ENDPOINT_COLUMNS);
			out.line(`Secret (shown once): ${created.secret}`);
		},
	},
	{
		command: "deliveries [replay] [id]",
		usage:
			"deliveries [--pending|--failed|--dead] [--endpoint <id>] [--limit <n>] | deliveries replay <id> | deliveries replay --endpoint <id>",
		description: "Outbound webhook deliveries, newest first (failed = retrying); replay a dead one, or every dead one of an endpoint",
		options: [
			{ option: "--pending", description: "only those waiting for their first attempt" },
			{ option: "--failed", description: "only those whose last attempt failed and that will be retried" },
			{ option: "--dead", description: "only those dead-lettered after the last retry" },
			{ option: "--endpoint <id>", description: "only this endpoint's (replay: every dead one of it)" },
			{ option: "--limit <n>", description: "how many (default 20)" },
		],
		operands: [0, 2],
		async run(broker, { args, options, operator }, out) {
			const endpointId = stringOption(options, "endpoint");
			if (args[0] === "replay") {
				if (!args[1] === !endpointId) throw new UsageError("deliveries replay needs a delivery id or --endpoint <id>");
				const { replayed } = await deliveryReplay(broker, operator, args[1] ? { id: args[1] } : { endpointId });
				out.line(replayed.length ? `Replayed ${replayed.length}: ${replayed.join(", ")}` : "No dead deliveries to replay.");
				return;
			}
			if (args.length > 0) throw new UsageError(`unknown deliveries subcommand "${args[0]}"`);
			const status = statusOption(options);
			const limit = numberOption(options, "limit", 20, { min: 1, max: 500, integer: true });
			const rows = await deliveryList(broker, operator, { ...(status ? { status } : {}), ...(endpointId ? { endpointId } : {}), limit });
			out.table(rows, DELIVERY_COLUMNS, "No deliveries.");
		},
	},
];
