import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";

/** What emits a domain event: any service (its name and node become the envelope's `source`). */
export type EventSource = Pick<Service, "fullName" | "broker">;

/** Every domain event of DESIGN.md, named `domain.subject_action`. */
export const DOMAIN_EVENTS = [
	"marketplace.user_registered",
	"marketplace.user_updated",
	"marketplace.user_deleted",
	"marketplace.vendor_onboarded",
	"marketplace.vendor_updated",
	"marketplace.vendor_status_changed",
	"marketplace.review_submitted",
	"location.vendor_online",
	"location.vendor_offline",
	"location.vendor_location_updated",
	"location.proximity_alert",
	"location.geofence_triggered",
	"payments.subscription_changed",
	"communication.webhook_received",
] as const;
export type DomainEventName = (typeof DOMAIN_EVENTS)[number];

export const EVENT_VERSION = 1;

export type DomainEventMeta = {
	eventId: string;
	/** Emitting service and node, e.g. "vendors@node-1". */
	source: string;
	/** ISO-8601. */
	timestamp: string;
	version: number;
	/** The request id of the call that caused the event. */
	correlationId: string | null;
	domain: string;
	subdomain: string;
};

export type DomainEvent<TData = unknown> = {
	/** Ids of the entities involved (userId, vendorId, …). */
	context: Record<string, string | null | undefined>;
	meta: DomainEventMeta;
	data: TData;
};

/** Builds the envelope; `marketplace.vendor_onboarded` → domain "marketplace", subdomain "vendor". */
export function domainEvent<TData>(
	name: DomainEventName,
	data: TData,
	context: DomainEvent["context"],
	origin: { source: string; correlationId?: string | null | undefined }
): DomainEvent<TData> {
	const [domain = name, action = ""] = name.split(".");
	return {
		context,
		meta: {
			eventId: randomUUID(),
			source: origin.source,
			timestamp: new Date().toISOString(),
			version: EVENT_VERSION,
			correlationId: origin.correlationId ?? null,
			domain,
			subdomain: action.split("_")[0] ?? "",
		},
		data,
	};
}

/** Emits a domain event from a service, correlated with the request that caused it (when there is one). */
export function emitDomainEvent<TData>(
	service: EventSource,
	ctx: Context | null | undefined,
	name: DomainEventName,
	data: TData,
	context: DomainEvent["context"]
): Promise<void> {
	const envelope = domainEvent(name, data, context, {
		source: `${service.fullName}@${service.broker.nodeID}`,
		correlationId: ctx?.requestID ?? null,
	});
	return ctx ? ctx.emit(name, envelope) : service.broker.emit(name, envelope);
}
