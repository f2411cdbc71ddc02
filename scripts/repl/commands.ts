import { isRole, ROLES, type Caller } from "../../lib/identity.ts";
import { WEBHOOK_SOURCES, type WebhookSource } from "../../services/webhooks/contract.ts";
import { DEMAND_COMMANDS } from "./demand-commands.ts";
import { number, numberOption, replCommands, stringOption, UsageError, type Spec } from "./cli.ts";
import { inboxList, inboxReplay, kickVendor, setUserRole, setVendorStatus, vendorReport } from "./ops/admin.ts";
import { checkCell, parseBBox } from "./ops/common.ts";
import { socketList, socketsReport } from "./ops/live.ts";
import { busiestCells, nearby, onlineVendors } from "./ops/where.ts";
import { OUTBOUND_COMMANDS } from "./outbound-commands.ts";
import { ZONE_COMMANDS } from "./zone-commands.ts";

/**
 * The operator commands of `npm run repl`, next to moleculer-repl's built-ins. Each one parses
 * its arguments, calls one function of ops/ (which calls the services' actions) and prints a table.
 */
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
			const rows = await onlineVendors(broker, {
				...(cell ? { cell: checkCell(cell) } : {}),
				...(bboxText ? { bbox: parseBBox(bboxText) } : {}),
			});
			out.table(
				rows,
				{ vendorId: "Vendor", name: "Name", status: "Status", lat: "Lat", lng: "Lng", cell: "Cell", ageS: "Age (s)" },
				"No vendor online here."
			);
			out.line(`${rows.length} online`);
		},
	},
	{
		command: "sockets",
		usage: "sockets [--window <seconds>] | sockets --node <nodeID>",
		description:
			"Per live gateway node: sockets, watchers, vendors, watched cells and rates, as each node reports them; --node lists one node's sockets and watch sets",
		options: [
			{ option: "--window <seconds>", description: "sampling window for the rates (default 1)" },
			{ option: "--node <nodeID>", description: "list the sockets of this live node" },
		],
		operands: [0, 0],
		async run(broker, { options }, out) {
			const node = stringOption(options, "node");
			if (node !== undefined) {
				const sockets = await socketList(broker, node);
				out.table(
					sockets,
					{
						connId: "Conn",
						user: "User",
						vendorId: "Vendor",
						cells: "Watched cells",
						buffered: "Buffered (B)",
						behind: "Behind",
						slow: "Slow",
					},
					`No socket on ${node}.`
				);
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
			out.table(
				rows,
				{ vendorId: "Vendor", name: "Name", distanceM: "Distance (m)", online: "Online", ageS: "Age (s)", categories: "Categories" },
				"Nothing within reach."
			);
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
			out.table(
				await busiestCells(broker, { top }),
				{ cell: "Cell", vendors: "Vendors", watchers: "Watchers" },
				"No vendor online and nobody watching."
			);
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
				const change = await setVendorStatus(broker, operator, second, first === "suspend" ? "suspended" : "active");
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
				[
					"owner",
					r.owner
						? `${r.owner.id} (${[r.owner.firstName, r.owner.lastName].filter(Boolean).join(" ") || r.owner.email || "no name"}, ${r.owner.role})`
						: v.ownerId,
				],
				["categories", v.categories],
				[
					"subscription",
					`${v.subscription.active ? "active" : "inactive"}${v.subscription.entitlements.length ? ` [${v.subscription.entitlements.join(", ")}]` : ""}${v.subscription.expiresAt ? ` until ${v.subscription.expiresAt}` : ""}`,
				],
				["rating", `${v.rating.average} (${v.rating.count})`],
				["created / updated", `${v.createdAt} / ${v.updatedAt}`],
				[
					"live",
					r.location
						? `${r.location.online ? "online" : "offline"} at ${r.location.lat}, ${r.location.lng} cell ${r.location.cell}, ${r.location.ageS}s ago`
						: "no position",
				],
				["socket on", r.socketNodes.length ? r.socketNodes : "no live socket"],
			]);
			out.line("history (newest first):");
			out.table(r.history.slice(0, 10), { time: "Time", lat: "Lat", lng: "Lng", cell: "Cell", ageS: "Age (s)" }, "(no positions)");
		},
	},
	{
		command: "inbox [replay] [id]",
		usage: "inbox [--failed] [--source clerk|revenuecat] [--limit <n>] | inbox replay <id> [--force]",
		description: "Recorded webhook events, newest first, with why one was stale or ignored; replay one (a settled one only with --force)",
		options: [
			{ option: "--failed", description: "only events that failed to apply" },
			{ option: "--source <source>", description: "clerk or revenuecat" },
			{ option: "--limit <n>", description: "how many (default 20)" },
			{ option: "--force", description: "replay: apply again even if applied, stale or ignored" },
		],
		operands: [0, 2],
		async run(broker, { args, options, operator }, out) {
			const columns = {
				id: "Id",
				source: "Source",
				type: "Type",
				status: "Status",
				reason: "Reason",
				attempts: "Attempts",
				receivedAt: "Received",
				appliedAt: "Applied",
				error: "Error",
			} as const;
			if (args[0] === "replay") {
				if (!args[1]) throw new UsageError("inbox replay needs an event id (see the Id column of inbox)");
				out.table([await inboxReplay(broker, operator, args[1], { force: options.force === true })], columns);
				return;
			}
			if (args.length > 0) throw new UsageError(`unknown inbox subcommand "${args[0]}"`);
			const source = stringOption(options, "source");
			if (source !== undefined && !(WEBHOOK_SOURCES as readonly string[]).includes(source))
				throw new UsageError(`--source must be ${WEBHOOK_SOURCES.join(" or ")}`);
			const limit = numberOption(options, "limit", 20, { min: 1, max: 500, integer: true });
			const rows = await inboxList(broker, operator, {
				failed: options.failed === true,
				source: source as WebhookSource | undefined,
				limit,
			});
			out.table(rows, columns, "No recorded webhook events.");
		},
	},
	{
		command: "role <userId> <role>",
		usage: `role <userId> <${ROLES.join("|")}>`,
		description: "Set a user's role (as the operator, audited)",
		operands: [2, 2],
		async run(broker, { args, operator }, out) {
			const [id, role] = args as [string, string];
			if (!isRole(role)) throw new UsageError(`role must be ${ROLES.join(", ")}`);
			const user = await setUserRole(broker, operator, id, role);
			out.line(`${user.id} is now ${user.role} (by ${operator.id}).`);
		},
	},
	{
		command: "kick <vendorId>",
		usage: "kick <vendorId>",
		description: "Close a vendor's live socket (close code 4012 KICKED) on whichever node holds it",
		operands: [1, 1],
		async run(broker, { args, operator }, out) {
			const result = await kickVendor(broker, operator, args[0]!);
			out.line(
				result.closed
					? `Kicked ${result.vendorId} on ${result.nodes.join(", ")}.`
					: `${result.vendorId} has no live socket right now (kick sent anyway).`
			);
		},
	},
	...DEMAND_COMMANDS,
	...ZONE_COMMANDS,
	...OUTBOUND_COMMANDS,
];

/** The custom commands for `replOptions.customCommands`; `operator` is the identity privileged commands act as. */
export const operatorCommands = (operator: Caller) => replCommands(REPL_COMMANDS, operator);
