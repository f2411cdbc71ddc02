import type { ServiceBroker } from "moleculer";
import type { KickParams } from "../../../gateways/live/contract.ts";
import type { Caller } from "../../../lib/identity.ts";
import type { HistoryParams, GetParams as GeoGetParams, StoredPosition, VendorLocation } from "../../../services/geo/contract.ts";
import type { SetRoleParams, GetParams as UserGetParams, User } from "../../../services/users/contract.ts";
import type { GetParams, SetStatusParams, Vendor } from "../../../services/vendors/contract.ts";
import type { InboxEntry, InboxParams, InboxReason, ReplayParams, WebhookSource } from "../../../services/webhooks/contract.ts";
import { ageSeconds, asOperator, CALL } from "./common.ts";
import { sampleLive, type LiveSample } from "./live.ts";

/** One vendor (report, suspend/resume, kick) and the webhook inbox. */

export type VendorReport = {
	vendor: Vendor;
	owner: Pick<User, "id" | "email" | "firstName" | "lastName" | "role"> | null;
	location: (VendorLocation & { ageS: number }) | null;
	history: (StoredPosition & { ageS: number; time: string })[];
	/** Live nodes holding a socket of this vendor right now. */
	socketNodes: string[];
};

/** `vendor <id>`: profile, status, subscription, live position and history. */
export async function vendorReport(broker: ServiceBroker, id: string): Promise<VendorReport> {
	const vendor = await broker.call<Vendor, GetParams>("vendors.get", { id }, { ...CALL, meta: { $cache: false } });
	const [owner, location, history, samples] = await Promise.all([
		vendor.ownerId ? broker.call<User, UserGetParams>("users.get", { id: vendor.ownerId }, CALL).catch(() => null) : null,
		broker.call<VendorLocation | null, GeoGetParams>("geo.get", { vendorId: id }, CALL),
		broker.call<StoredPosition[], HistoryParams>("geo.history", { vendorId: id }, CALL),
		sampleLive(broker, { sockets: true }),
	]);
	const now = Date.now();
	return {
		vendor,
		owner: owner && { id: owner.id, email: owner.email, firstName: owner.firstName, lastName: owner.lastName, role: owner.role },
		location: location && { ...location, ageS: ageSeconds(location.ts, now) },
		history: history.map(p => ({ ...p, ageS: ageSeconds(p.ts, now), time: new Date(p.ts).toISOString() })),
		socketNodes: socketNodesOf(samples, id),
	};
}

function socketNodesOf(samples: LiveSample[], vendorId: string): string[] {
	return samples.filter(s => s.stats?.watchSets?.some(w => w.vendorId === vendorId)).map(s => s.node);
}

export type StatusChange = { vendorId: string; name: string; previous: string; status: string; by: string; at: string };

/** `vendor suspend|resume`: the vendors service changes the status as the operator (an admin) and emits the event. */
export async function setVendorStatus(
	broker: ServiceBroker,
	operator: Caller,
	id: string,
	status: "suspended" | "active"
): Promise<StatusChange> {
	const before = await broker.call<Vendor, GetParams>("vendors.get", { id }, { ...CALL, meta: { $cache: false } });
	const after = await broker.call<Vendor, SetStatusParams>("vendors.setStatus", { id, status }, asOperator(operator));
	return { vendorId: id, name: after.name, previous: before.status, status: after.status, by: operator.id, at: after.updatedAt };
}

export type InboxRow = {
	id: string;
	source: WebhookSource;
	type: string;
	status: string;
	/** Why a stale or ignored event changed nothing. */
	reason: InboxReason | null;
	attempts: number;
	receivedAt: string;
	appliedAt: string | null;
	error: string | null;
};

export const toInboxRow = (e: InboxEntry): InboxRow => ({
	id: e.id,
	source: e.source,
	type: e.type,
	status: e.status,
	reason: e.reason,
	attempts: e.attempts,
	receivedAt: e.receivedAt,
	appliedAt: e.appliedAt,
	error: e.error,
});

/** `inbox`: recorded webhook events, newest first (their payloads hold personal data: operators only). */
export async function inboxList(
	broker: ServiceBroker,
	operator: Caller,
	{ failed, source, limit = 20 }: { failed?: boolean; source?: WebhookSource; limit?: number } = {}
): Promise<InboxRow[]> {
	const params: InboxParams = { limit, ...(failed ? { status: "failed" } : {}), ...(source ? { source } : {}) };
	return (await broker.call<InboxEntry[], InboxParams>("webhooks.inbox", params, asOperator(operator))).map(toInboxRow);
}

/** `inbox replay <id>`: applies a recorded event again, as the operator. */
export async function inboxReplay(broker: ServiceBroker, operator: Caller, id: string, { force = false } = {}): Promise<InboxRow> {
	return toInboxRow(await broker.call<InboxEntry, ReplayParams>("webhooks.replay", { id, force }, asOperator(operator)));
}

/** `role <userId> <role>`: sets a user's role as the operator. */
export function setUserRole(broker: ServiceBroker, operator: Caller, id: string, role: User["role"]): Promise<User> {
	return broker.call<User, SetRoleParams>("users.setRole", { id, role }, asOperator(operator));
}

export type KickResult = { vendorId: string; nodes: string[]; closed: boolean };

/** `kick`: closes the vendor's live socket (close code KICKED) wherever it is. */
export async function kickVendor(broker: ServiceBroker, operator: Caller, vendorId: string): Promise<KickResult> {
	const nodes = socketNodesOf(await sampleLive(broker, { sockets: true }), vendorId);
	await broker.call<unknown, KickParams>("live.kick", { vendorId }, asOperator(operator));
	return { vendorId, nodes, closed: nodes.length > 0 };
}
