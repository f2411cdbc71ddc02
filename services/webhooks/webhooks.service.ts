import { Errors, type Context, type Service, type ServiceSchema } from "moleculer";
import type { VentaSettings } from "../../runtime/engine.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { KeyedQueue } from "../../lib/keyed-queue.ts";
import { verifySvix } from "./svix.ts";
import { clerkEnvelope, ClerkPayloadError, planClerkEvent } from "./clerk.ts";
import { planRevenueCatEvent, revenueCatAuthorized, revenueCatBody, revokedState, type SubscriptionState } from "./revenuecat.ts";
import { createDbMixin, type Store } from "../../mixins/db.mixin.ts";
import type { DetachOwnerParams, SetSubscriptionParams } from "../vendors/vendors.service.ts";
import type { LookupParams } from "../users/users.service.ts";

export const WEBHOOK_SOURCES = ["clerk", "revenuecat"] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];
export const INBOX_STATUSES = ["received", "applied", "failed"] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

/** One delivery as the gateway hands it over: the body exactly as received, the request headers. */
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

type InboxDoc = Omit<InboxEntry, "id"> & { _id: string; lockedUntil: number };

/** One node owns an event while applying it; a crashed owner's claim lapses after this. */
const APPLY_LEASE_MS = 60_000;
const HISTORY_KEPT = 20;
const INBOX_LIST_MAX = 500;

type Applied = Record<string, unknown>;
/** One owner whose subscription an event set, kept in the inbox entry's result. */
type OwnerChange = { userId: string; subscription: SubscriptionState; vendorIds: string[] };

type WebhooksMethods = {
	receive(ctx: Context, source: WebhookSource, eventId: string, type: string, payload: string): Promise<WebhookAnswer>;
	applyRecorded(ctx: Context, id: string, force: boolean): Promise<{ doc: InboxDoc; duplicate: boolean }>;
	applyEvent(ctx: Context, doc: InboxDoc): Promise<Applied>;
	applyClerk(ctx: Context, payload: unknown): Promise<Applied>;
	applyRevenueCat(ctx: Context, id: string, payload: unknown): Promise<Applied>;
	heldSubscription(userId: string, exceptId: string): Promise<SubscriptionState | null>;
	ownerOf(ctx: Context, ids: string[]): Promise<string | null>;
};
/** `queue` runs deliveries of the same event one after another on this node; the store claim covers other nodes. */
type WebhooksVars = { adapter: Store; queue: KeyedQueue };

const notConfigured = (variable: string) =>
	new Errors.MoleculerError(`Webhook endpoint is not configured: set ${variable}`, 503, "WEBHOOK_NOT_CONFIGURED", { variable });

function parseJson(body: string): unknown {
	try {
		return JSON.parse(body);
	} catch {
		throw new Errors.MoleculerClientError("Body is not valid JSON", 400, "INVALID_JSON");
	}
}

function invalid(fields: string[]): Errors.MoleculerClientError {
	return new Errors.MoleculerClientError("Webhook payload does not have the expected shape", 422, "VALIDATION_ERROR", { fields });
}

function toEntry(doc: InboxDoc): InboxEntry {
	const { _id, lockedUntil: _lease, ...rest } = doc;
	return { id: _id, ...rest };
}

function answer(doc: InboxDoc, duplicate: boolean): WebhookAnswer {
	return { received: true, id: doc._id, type: doc.type, status: doc.status, duplicate };
}

const WebhooksService: ServiceSchema<VentaSettings, WebhooksMethods, WebhooksVars> = {
	name: "webhooks",
	mixins: [createDbMixin("webhook_inbox", [{ fields: { receivedAt: -1 } }, { fields: { status: 1 } }])],

	settings: {
		config: undefined as never,
	},

	actions: {
		/** A Clerk (Svix-signed) delivery. */
		clerk: {
			params: { body: { type: "string", empty: true }, headers: { type: "object" } },
			async handler(ctx: Context<WebhookParams>): Promise<WebhookAnswer> {
				const secret = this.settings.config.clerkWebhookSecret;
				if (!secret) throw notConfigured("CLERK_WEBHOOK_SECRET");
				const verified = verifySvix(secret, ctx.params.headers, ctx.params.body);
				if (!verified.ok) {
					throw new Errors.MoleculerClientError(verified.message, 401, "INVALID_SIGNATURE", { reason: verified.reason });
				}
				const event = clerkEnvelope.safeParse(parseJson(ctx.params.body));
				if (!event.success) throw invalid(event.error.issues.map(i => i.path.join(".") || "(body)"));
				try {
					planClerkEvent(event.data);
				} catch (err) {
					if (err instanceof ClerkPayloadError) throw invalid(err.fields);
					throw err;
				}
				return this.receive(ctx, "clerk", verified.id, event.data.type, ctx.params.body);
			},
		},

		/** A RevenueCat delivery, authorised by its Authorization header. */
		revenuecat: {
			params: { body: { type: "string", empty: true }, headers: { type: "object" } },
			async handler(ctx: Context<WebhookParams>): Promise<WebhookAnswer> {
				const expected = this.settings.config.revenuecatWebhookAuth;
				if (!expected) throw notConfigured("REVENUECAT_WEBHOOK_AUTH");
				const auth = ctx.params.headers.authorization;
				if (!revenueCatAuthorized(expected, Array.isArray(auth) ? auth[0] : auth)) {
					throw new Errors.MoleculerClientError("Authorization header does not match", 401, "UNAUTHORIZED");
				}
				const body = revenueCatBody.safeParse(parseJson(ctx.params.body));
				if (!body.success) throw invalid(body.error.issues.map(i => i.path.join(".") || "(body)"));
				return this.receive(ctx, "revenuecat", body.data.event.id, body.data.event.type, ctx.params.body);
			},
		},

		/** Recorded events, newest first (REPL). */
		inbox: {
			visibility: "public",
			params: {
				status: { type: "enum", values: [...INBOX_STATUSES], optional: true },
				source: { type: "enum", values: [...WEBHOOK_SOURCES], optional: true },
				limit: { type: "number", integer: true, min: 1, max: INBOX_LIST_MAX, optional: true, convert: true },
			},
			async handler(ctx: Context<InboxParams>): Promise<InboxEntry[]> {
				const query: Record<string, unknown> = {};
				if (ctx.params.status) query.status = ctx.params.status;
				if (ctx.params.source) query.source = ctx.params.source;
				const docs = await this.adapter.find({ query, sort: ["-receivedAt"], limit: ctx.params.limit ?? 50 });
				return docs.map(toEntry);
			},
		},

		/**
		 * Applies a recorded event again (REPL): one that failed or was left half-done. An applied
		 * event is left alone unless `force` is set.
		 */
		replay: {
			visibility: "public",
			params: { id: { type: "string", min: 1 }, force: { type: "boolean", optional: true, convert: true } },
			async handler(ctx: Context<ReplayParams>): Promise<InboxEntry> {
				const { id, force = false } = ctx.params;
				return this.queue.run(id, async () => {
					const { doc } = await this.applyRecorded(ctx, id, force);
					return toEntry(doc);
				});
			},
		},
	},

	methods: {
		/** Records a verified event (once per id), then applies it unless it was applied before. */
		async receive(ctx: Context, source: WebhookSource, eventId: string, type: string, payload: string) {
			const id = `${source}:${eventId}`;
			return this.queue.run(id, async () => {
				const receivedAt = new Date().toISOString();
				const doc: InboxDoc = {
					_id: id,
					source,
					eventId,
					type,
					payload,
					status: "received",
					attempts: 0,
					error: null,
					result: null,
					history: [],
					receivedAt,
					appliedAt: null,
					lockedUntil: 0,
				};
				let isNew = true;
				try {
					await this.adapter.insert(doc);
				} catch (err) {
					// The store's unique _id refused it: another delivery recorded it first.
					if (!(await this.adapter.findOne({ _id: id }))) throw err;
					isNew = false;
				}
				if (isNew) {
					await emitDomainEvent(this as unknown as Service, ctx, "communication.webhook_received", { id, source, eventId, type }, { webhookId: id });
				}
				const { doc: after, duplicate } = await this.applyRecorded(ctx, id, false);
				return answer(after, duplicate);
			});
		},

		/**
		 * Claims the event in the store (so no two nodes apply it at once), applies it and records
		 * the outcome. A failure is recorded and answered with 503 so the sender retries.
		 */
		async applyRecorded(ctx: Context, id: string, force: boolean) {
			const current = await this.adapter.findOne({ _id: id });
			if (!current) throw new Errors.MoleculerClientError(`No recorded webhook event ${id}`, 404, "NOT_FOUND", { id });
			if (current.status === "applied" && !force) return { doc: current, duplicate: true };

			const now = Date.now();
			const claimed = await this.adapter.updateMany(
				{ _id: id, lockedUntil: { $lt: now }, ...(force ? {} : { status: { $ne: "applied" } }) },
				{ $set: { lockedUntil: now + APPLY_LEASE_MS }, $inc: { attempts: 1 } }
			);
			if (claimed === 0) {
				const latest = await this.adapter.findOne({ _id: id });
				if (latest?.status === "applied" && !force) return { doc: latest, duplicate: true };
				throw new Errors.MoleculerClientError("This event is being applied by another node; retry later", 409, "WEBHOOK_IN_PROGRESS", { id });
			}

			const at = new Date().toISOString();
			try {
				const result = await this.applyEvent(ctx, current);
				await this.adapter.updateMany(
					{ _id: id },
					{
						$set: { status: "applied", appliedAt: at, error: null, result, lockedUntil: 0 },
						$push: { history: { $each: [{ at, outcome: "applied" }], $slice: -HISTORY_KEPT } },
					}
				);
			} catch (err) {
				const message = (err as Error).message || String(err);
				this.logger.warn({ webhook: id, err: message }, "Applying a webhook event failed; the sender will retry");
				await this.adapter.updateMany(
					{ _id: id },
					{
						$set: { status: "failed", error: message, lockedUntil: 0 },
						$push: { history: { $each: [{ at, outcome: "failed", error: message }], $slice: -HISTORY_KEPT } },
					}
				);
				throw new Errors.MoleculerError("The event is recorded but could not be applied; retry later", 503, "WEBHOOK_APPLY_FAILED", { id, error: message });
			}
			return { doc: (await this.adapter.findOne({ _id: id }))!, duplicate: false };
		},

		applyEvent(ctx: Context, doc: InboxDoc): Promise<Applied> {
			const payload = JSON.parse(doc.payload) as unknown;
			return doc.source === "clerk" ? this.applyClerk(ctx, payload) : this.applyRevenueCat(ctx, doc._id, payload);
		},

		async applyClerk(ctx: Context, payload: unknown): Promise<Applied> {
			// Checked when it was received, so it parses.
			const plan = planClerkEvent(clerkEnvelope.parse(payload));
			switch (plan.kind) {
				case "upsert":
					await ctx.call("users.upsertFromClerk", plan.profile);
					return { userId: plan.profile.id, action: "upserted" };
				case "delete": {
					// Vendors first: should removing the user fail, the retry finds them detached already.
					const vendorIds = await ctx.call<string[], DetachOwnerParams>("vendors.detachOwner", { ownerId: plan.userId });
					try {
						await ctx.call("users.remove", { id: plan.userId });
					} catch (err) {
						// A user this system never saw: there is nothing to delete.
						if ((err as Errors.MoleculerError).type !== "NOT_FOUND") throw err;
					}
					return { userId: plan.userId, action: "deleted", vendorIds };
				}
				case "record":
					return { ignored: "event type not used" };
			}
		},

		async applyRevenueCat(ctx: Context, id: string, payload: unknown): Promise<Applied> {
			const { event } = revenueCatBody.parse(payload);
			const plan = planRevenueCatEvent(event);
			const owners: OwnerChange[] = [];
			const setFor = async (userId: string, subscription: SubscriptionState) => {
				const vendorIds = await ctx.call<string[], SetSubscriptionParams>("vendors.setSubscription", { ownerId: userId, subscription: subscription as never });
				owners.push({ userId, subscription, vendorIds });
			};
			switch (plan.kind) {
				case "record":
					return { ignored: plan.reason };
				case "set": {
					const userId = await this.ownerOf(ctx, plan.candidates);
					if (!userId) return { ignored: "no app user id" };
					await setFor(userId, plan.subscription);
					return { owners };
				}
				case "transfer": {
					// A TRANSFER carries no entitlements: the receiver gets what the giver held.
					const [from, to] = await Promise.all([this.ownerOf(ctx, plan.from), this.ownerOf(ctx, plan.to)]);
					const held = from ? await this.heldSubscription(from, id) : null;
					if (to && held) await setFor(to, { ...held, updatedAt: plan.updatedAt });
					if (from) await setFor(from, revokedState(plan.updatedAt, held?.store ?? null, held?.environment ?? null));
					return { owners, from, to };
				}
			}
		},

		/**
		 * The newest subscription state this inbox applied to `userId` (other than by event
		 * `exceptId`), with an expiry that has passed since then taken into account.
		 */
		async heldSubscription(userId: string, exceptId: string): Promise<SubscriptionState | null> {
			const docs: InboxDoc[] = await this.adapter.find({
				query: { source: "revenuecat", status: "applied", "result.owners.userId": userId, _id: { $ne: exceptId } },
			});
			let newest: SubscriptionState | null = null;
			for (const doc of docs) {
				for (const change of (doc.result?.owners as OwnerChange[] | undefined) ?? []) {
					if (change.userId === userId && (!newest || change.subscription.updatedAt > newest.updatedAt)) newest = change.subscription;
				}
			}
			if (!newest) return null;
			const lapsed = newest.expiresAt !== null && Date.parse(newest.expiresAt) <= Date.now();
			return lapsed ? { ...newest, active: false, entitlements: [] } : newest;
		},

		/**
		 * The user an event belongs to: the first known one among `ids`, else the first id itself,
		 * so a purchase made before the user first signed in is held for their vendors to come.
		 */
		async ownerOf(ctx: Context, ids: string[]): Promise<string | null> {
			if (ids.length === 0) return null;
			const user = await ctx.call<{ id: string } | null, LookupParams>("users.lookup", { ids: ids.slice(0, 50) });
			return user?.id ?? ids[0]!;
		},
	},

	created() {
		this.queue = new KeyedQueue();
	},
};

export default WebhooksService;
