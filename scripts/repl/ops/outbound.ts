import type { ServiceBroker } from "moleculer";
import type { Caller } from "../../../lib/identity.ts";
import type {
	CreatedEndpoint,
	Delivery,
	DeliveriesParams,
	DeliveryStatus,
	EndpointIdParams,
	EndpointInput,
	ReplayParams,
	ReplayResult,
	WebhookEndpoint,
} from "../../../services/outbound/contract.ts";
import { asOperator } from "./common.ts";

/** Outbound webhooks: operators' endpoints and the deliveries to them (the outbound service's privileged actions). */

export type EndpointRow = { id: string; url: string; events: string; enabled: boolean; createdAt: string; createdBy: string };
export type DeliveryRow = Pick<
	Delivery,
	"id" | "endpointId" | "event" | "status" | "attempts" | "nextAttemptAt" | "lastError" | "createdAt"
>;

const endpointRow = (e: WebhookEndpoint): EndpointRow => ({
	id: e.id,
	url: e.url,
	events: e.events.join(","),
	enabled: e.enabled,
	createdAt: e.createdAt,
	createdBy: e.createdBy,
});

export async function hookList(broker: ServiceBroker, operator: Caller): Promise<EndpointRow[]> {
	return (await broker.call<{ rows: WebhookEndpoint[] }, object>("outbound.listEndpoints", {}, asOperator(operator))).rows.map(endpointRow);
}

/** `hook add`: the answer carries the secret, shown this once. */
export function hookAdd(broker: ServiceBroker, operator: Caller, input: EndpointInput): Promise<CreatedEndpoint> {
	return broker.call<CreatedEndpoint, EndpointInput>("outbound.createEndpoint", input, asOperator(operator));
}

export async function hookRemove(broker: ServiceBroker, operator: Caller, id: string): Promise<void> {
	await broker.call<unknown, EndpointIdParams>("outbound.removeEndpoint", { id }, asOperator(operator));
}

/** `deliveries`: newest first; `failed` are the retrying ones (an attempt failed, another is due). */
export async function deliveryList(
	broker: ServiceBroker,
	operator: Caller,
	filter: { status?: DeliveryStatus; endpointId?: string; limit?: number }
): Promise<DeliveryRow[]> {
	const rows = await broker.call<Delivery[], DeliveriesParams>("outbound.deliveries", filter, asOperator(operator));
	return rows.map(({ id, endpointId, event, status, attempts, nextAttemptAt, lastError, createdAt }) => ({
		id,
		endpointId,
		event,
		status,
		attempts,
		nextAttemptAt,
		lastError,
		createdAt,
	}));
}

/** `deliveries replay`: one dead delivery, or every dead one of an endpoint. */
export function deliveryReplay(broker: ServiceBroker, operator: Caller, target: ReplayParams): Promise<ReplayResult> {
	return broker.call<ReplayResult, ReplayParams>("outbound.replay", target, asOperator(operator));
}
