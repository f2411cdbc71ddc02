/** What the webhooks service takes and answers (dependency-free). */

export const WEBHOOK_SOURCES = ["clerk", "revenuecat"] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];
export const INBOX_STATUSES = ["received", "applied", "failed"] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

/** One delivery as the gateway hands it over: the body exactly as received, the signing headers. */
export type WebhookParams = { body: string; headers: Record<string, string | string[] | undefined> };
export type InboxParams = { status?: InboxStatus; source?: WebhookSource; limit?: number };
export type ReplayParams = { id: string; force?: boolean };

export type InboxHistoryEntry = { at: string; outcome: "applied" | "failed"; error?: string };

/** A recorded webhook event. `payload` is the verified raw body, kept as text. */
export type InboxEntry = {
	/** `${source}:${eventId}` — the idempotency key. */
	id: string;
	source: WebhookSource;
	eventId: string;
	type: string;
	payload: string;
	status: InboxStatus;
	attempts: number;
	error: string | null;
	/** What applying did (user and vendor ids touched, or why nothing was done). */
	result: Record<string, unknown> | null;
	history: InboxHistoryEntry[];
	receivedAt: string;
	appliedAt: string | null;
};

/**
 * The answer a sender gets: 2xx only once the event is recorded and applied. `duplicate`: it had
 * been applied before this delivery, so nothing was applied now.
 */
export type WebhookAnswer = { received: true; id: string; type: string; status: InboxStatus; duplicate: boolean };

/** Entries webhooks.inbox lists at most. */
export const INBOX_LIST_MAX = 500;
