/**
 * What the outbound webhooks service takes and answers (dependency-free): operators' endpoints,
 * the deliveries made to them, and the metrics it registers. docs/alerts.md has the payload,
 * headers, signature and retry schedule.
 */

/** Longest endpoint URL accepted. */
export const MAX_ENDPOINT_URL = 2_048;
/** Most endpoints per namespace (every event is matched against all of them). */
export const MAX_ENDPOINTS = 100;
/** Deliveries `outbound.deliveries` lists at most. */
export const DELIVERY_LIST_MAX = 500;
/** How much of a receiver's answer is kept with a failed attempt (never logged beyond it). */
export const RESPONSE_SNIPPET_MAX = 200;

/**
 * `pending`: waiting for its first or next attempt; `retrying`: an attempt failed, another is
 * scheduled; `delivered`: a 2xx came back; `dead`: the last attempt failed (replay it).
 */
export const DELIVERY_STATUSES = ["pending", "retrying", "delivered", "dead"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What an admin posts: `secret` (whsec_<base64>) is generated when not given. */
export type EndpointInput = { url: string; events: string[]; secret?: string; enabled?: boolean; description?: string };

/** An endpoint as listed: never its secret. */
export type WebhookEndpoint = {
	id: string;
	url: string;
	events: string[];
	enabled: boolean;
	description: string | null;
	createdAt: string;
	createdBy: string;
};
/** The answer to creating one: the only time the secret is shown. */
export type CreatedEndpoint = WebhookEndpoint & { secret: string };

/** One event to one endpoint. `id` is the `webhook-id` header: the same on every attempt and replay. */
export type Delivery = {
	id: string;
	endpointId: string;
	event: string;
	eventId: string;
	/** The event's own time (its envelope's `meta.timestamp`); the delivery lag is measured from it. */
	eventAt: string;
	status: DeliveryStatus;
	attempts: number;
	/** When the next attempt is due (pending, retrying); null otherwise. */
	nextAttemptAt: string | null;
	/** The last failed attempt: the status the receiver answered (null: no answer) and what went wrong. */
	lastStatus: number | null;
	lastError: string | null;
	createdAt: string;
	deliveredAt: string | null;
};

export type EndpointIdParams = { id: string };
export type DeliveriesParams = { status?: DeliveryStatus; endpointId?: string; limit?: number };
/** Replays one dead delivery (`id`) or every dead delivery of an endpoint (`endpointId`). */
export type ReplayParams = { id?: string; endpointId?: string };
export type ReplayResult = { replayed: string[] };

export const OUTBOUND_METRICS = {
	deliveries: "venta.outbound.deliveries.total",
	lag: "venta.outbound.delivery.lag.seconds",
} as const;
/** Outcomes of an attempt, the `outcome` label of the deliveries counter. */
export type AttemptOutcome = "ok" | "retried" | "dead";

const DATE_TIME = { type: "string", format: "date-time" } as const;

const ENDPOINT_PROPERTIES = {
	id: { type: "string" },
	url: { type: "string", format: "uri" },
	events: { type: "array", items: { type: "string" }, description: "Domain event names this endpoint receives" },
	enabled: { type: "boolean" },
	description: { type: ["string", "null"] },
	createdAt: DATE_TIME,
	createdBy: { type: "string", description: "The admin who created it" },
} as const;
const ENDPOINT_REQUIRED = ["id", "url", "events", "enabled", "description", "createdAt", "createdBy"] as const;

export const ENDPOINT_SCHEMA = {
	title: "WebhookEndpoint",
	type: "object",
	additionalProperties: false,
	required: ENDPOINT_REQUIRED,
	properties: ENDPOINT_PROPERTIES,
} as const;

export const CREATED_ENDPOINT_SCHEMA = {
	title: "CreatedWebhookEndpoint",
	type: "object",
	additionalProperties: false,
	required: [...ENDPOINT_REQUIRED, "secret"],
	properties: { ...ENDPOINT_PROPERTIES, secret: { type: "string", description: "`whsec_<base64>`: shown only in this answer" } },
} as const;

export const ENDPOINT_LIST_SCHEMA = {
	title: "WebhookEndpointList",
	type: "object",
	additionalProperties: false,
	required: ["rows", "total"],
	properties: { rows: { type: "array", items: ENDPOINT_SCHEMA }, total: { type: "integer" } },
} as const;

export const ENDPOINT_DELETED_SCHEMA = {
	title: "WebhookEndpointDeleted",
	type: "object",
	additionalProperties: false,
	required: ["id", "deleted"],
	properties: { id: { type: "string" }, deleted: { const: true } },
} as const;
