/** What the webhooks service takes and answers (dependency-free). */

export const WEBHOOK_SOURCES = ["clerk", "revenuecat"] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

/**
 * What applying an event came to: `applied` changed (or confirmed) state; `stale` and `ignored`
 * changed nothing, and the entry's `reason` says why.
 */
export const OUTCOMES = ["applied", "stale", "ignored"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const INBOX_STATUSES = ["received", ...OUTCOMES, "failed"] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

/** Why an event changed nothing, and the outcome each reason gives (docs/webhooks.md lists them). */
export const INBOX_REASONS = {
	/** Clerk's `updated_at` or RevenueCat's `event_timestamp_ms` is older than the state already applied. */
	older_than_current: "stale",
	/** A Clerk profile for a user deleted meanwhile: a deleted user is never brought back. */
	user_deleted: "stale",
	/** The event's time is beyond now + WEBHOOK_CLOCK_SKEW_MS: taken as it would be, it would block every later event. */
	future_timestamp: "ignored",
	/** A Clerk event type this engine does not use. */
	event_type_not_used: "ignored",
	/** A RevenueCat TEST event. */
	test: "ignored",
	/** A RevenueCat event type this build does not know. */
	unknown_type: "ignored",
	/** A RevenueCat event that names no usable user id (only anonymous or malformed ones). */
	no_user: "ignored",
} as const satisfies Record<string, Exclude<Outcome, "applied">>;
export type InboxReason = keyof typeof INBOX_REASONS;

/** How far ahead of this node's clock an event's own timestamp may be (clock skew) before it is ignored. */
export const WEBHOOK_CLOCK_SKEW_MS = 5 * 60_000;

/** One delivery as the gateway hands it over: the body exactly as received, the signing headers. */
export type WebhookParams = { body: string; headers: Record<string, string | string[] | undefined> };
export type InboxParams = { status?: InboxStatus; source?: WebhookSource; limit?: number };
export type ReplayParams = { id: string; force?: boolean };

export type InboxHistoryEntry = { at: string; outcome: Outcome | "failed"; reason?: InboxReason; error?: string };

/** A recorded webhook event. `payload` is the verified raw body, kept as text. */
export type InboxEntry = {
	/** `${source}:${eventId}` — the idempotency key. */
	id: string;
	source: WebhookSource;
	eventId: string;
	type: string;
	payload: string;
	status: InboxStatus;
	/** Why a `stale` or `ignored` event changed nothing; null otherwise. */
	reason: InboxReason | null;
	attempts: number;
	error: string | null;
	/** What applying did or looked at (user and vendor ids), for operators. */
	result: Record<string, unknown> | null;
	history: InboxHistoryEntry[];
	receivedAt: string;
	/** When the event was last settled (applied, stale or ignored). */
	appliedAt: string | null;
};

/**
 * The answer a sender gets: 2xx only once the event is recorded and settled; `status` says whether
 * it changed anything, `reason` why not. `duplicate`: an earlier delivery settled it, so nothing
 * was done now (the answer repeats that delivery's status and reason).
 */
export type WebhookAnswer = {
	received: true;
	id: string;
	type: string;
	status: Outcome;
	reason: InboxReason | null;
	duplicate: boolean;
};

export const WEBHOOK_ANSWER_SCHEMA = {
	title: "WebhookAnswer",
	type: "object",
	additionalProperties: false,
	required: ["received", "id", "type", "status", "reason", "duplicate"],
	properties: {
		received: { const: true },
		id: { type: "string", description: "`<source>:<event id>`" },
		type: { type: "string" },
		status: { type: "string", enum: OUTCOMES },
		reason: { anyOf: [{ type: "string", enum: Object.keys(INBOX_REASONS) }, { type: "null" }] },
		duplicate: { type: "boolean" },
	},
} as const;

/** Entries webhooks.inbox lists at most. */
export const INBOX_LIST_MAX = 500;
