import { PRIVILEGED, serviceCaller, type CallerMeta } from "../../lib/identity.ts";
import { Errors, type Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { badRequest, unauthorized, unavailable } from "../../lib/errors.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { KeyedQueue } from "../../lib/keyed-queue.ts";
import { createDbMixin, type DbMethods } from "../../mixins/db.mixin.ts";
import { LOOKUP_MAX, type LookupParams } from "../users/contract.ts";
import type { SubscriptionState } from "../vendors/contract.ts";
import { applyClerkPlan, clerkEnvelope, ClerkPayloadError, planClerkEvent } from "./clerk.ts";
import {
	INBOX_LIST_MAX,
	INBOX_STATUSES,
	WEBHOOK_SOURCES,
	WEBHOOK_ANSWER_SCHEMA,
	type InboxEntry,
	type InboxParams,
	type ReplayParams,
	type WebhookAnswer,
	type WebhookParams,
	type WebhookSource,
} from "./contract.ts";
import { toEntry, WebhookInbox, type InboxDoc, type Settled, type SettledDoc } from "./inbox.ts";
import { applyRevenueCatPlan, planRevenueCatEvent, revenueCatAuthorized, revenueCatBody } from "./revenuecat.ts";
import { verifySvix } from "./svix.ts";

type WebhooksMethods = {
	receive(ctx: Context, source: WebhookSource, eventId: string, type: string, payload: string): Promise<WebhookAnswer>;
	applyEvent(ctx: Context, doc: InboxDoc): Promise<Settled>;
	ownerOf(ctx: Context, ids: string[]): Promise<string | null>;
};
/** `queue` runs deliveries of the same event one after another on this node; the inbox's claim covers other nodes. */
type WebhooksVars = { inbox: WebhookInbox; queue: KeyedQueue };

const notConfigured = (variable: string) =>
	unavailable(`Webhook endpoint is not configured: set ${variable}`, "WEBHOOK_NOT_CONFIGURED", { variable });

function parseJson(body: string): unknown {
	try {
		return JSON.parse(body);
	} catch {
		throw badRequest("Body is not valid JSON", "INVALID_JSON");
	}
}

/** A verified body that is not an event we understand: 422 listing the paths (the sender's retries would fail alike). */
const invalid = (fields: string[]) =>
	new Errors.MoleculerClientError("Webhook payload does not have the expected shape", 422, "VALIDATION_ERROR", { fields });

/** What the senders post (verified over its raw bytes; docs/webhooks.md). */
const WEBHOOK_BODY = { type: "object", description: "The sender's event, as Clerk or RevenueCat sends it." } as const;
const SVIX_HEADERS = {
	"svix-id": "The delivery's id (or webhook-id)",
	"svix-timestamp": "Seconds since the epoch (or webhook-timestamp)",
	"svix-signature": "`v1,<base64 HMAC>`, space-separated (or webhook-signature)",
};

const answer = (doc: SettledDoc, duplicate: boolean): WebhookAnswer => ({
	received: true,
	id: doc._id,
	type: doc.type,
	status: doc.status,
	reason: doc.reason,
	duplicate,
});

/** Clerk and RevenueCat webhooks: verify, record in the inbox, apply once, replay from the REPL. */
const WebhooksService: VentaServiceSchema<object, WebhooksMethods & DbMethods, WebhooksVars> = {
	name: "webhooks",
	mixins: [createDbMixin("webhook_inbox", [{ fields: { receivedAt: -1 } }, { fields: { status: 1 } }])],

	actions: {
		/** `POST /webhooks/clerk` — a Svix-signed delivery. */
		clerk: {
			params: { body: { type: "string", empty: true }, headers: { type: "object" } },
			openapi: { responses: { 200: WEBHOOK_ANSWER_SCHEMA }, body: WEBHOOK_BODY, errors: [401, 422], headers: SVIX_HEADERS },
			async handler(ctx: Context<WebhookParams>): Promise<WebhookAnswer> {
				const secret = this.settings.config.clerkWebhookSecret;
				if (!secret) throw notConfigured("CLERK_WEBHOOK_SECRET");
				const verified = verifySvix(secret, ctx.params.headers, ctx.params.body);
				if (!verified.ok) throw new Errors.MoleculerClientError(verified.message, 401, "INVALID_SIGNATURE", { reason: verified.reason });
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

		/** `POST /webhooks/revenuecat` — a delivery authorised by its Authorization header. */
		revenuecat: {
			params: { body: { type: "string", empty: true }, headers: { type: "object" } },
			openapi: {
				responses: { 200: WEBHOOK_ANSWER_SCHEMA },
				body: WEBHOOK_BODY,
				errors: [401, 422],
				headers: { authorization: "REVENUECAT_WEBHOOK_AUTH, exactly as configured in RevenueCat" },
			},
			async handler(ctx: Context<WebhookParams>): Promise<WebhookAnswer> {
				const expected = this.settings.config.revenuecatWebhookAuth;
				if (!expected) throw notConfigured("REVENUECAT_WEBHOOK_AUTH");
				const auth = ctx.params.headers.authorization;
				if (!revenueCatAuthorized(expected, Array.isArray(auth) ? auth[0] : auth))
					throw unauthorized("Authorization header does not match", "UNAUTHORIZED");
				const body = revenueCatBody.safeParse(parseJson(ctx.params.body));
				if (!body.success) throw invalid(body.error.issues.map(i => i.path.join(".") || "(body)"));
				return this.receive(ctx, "revenuecat", body.data.event.id, body.data.event.type, ctx.params.body);
			},
		},

		/** Recorded events, newest first (REPL). */
		inbox: {
			// Not for the gateways: operators only (REPL); the payloads hold personal data.
			visibility: "public",
			roles: PRIVILEGED,
			params: {
				status: { type: "enum", values: [...INBOX_STATUSES], optional: true },
				source: { type: "enum", values: [...WEBHOOK_SOURCES], optional: true },
				limit: { type: "number", integer: true, min: 1, max: INBOX_LIST_MAX, optional: true, convert: true },
			},
			handler(ctx: Context<InboxParams>): Promise<InboxEntry[]> {
				return this.inbox.list(ctx.params, ctx.params.limit ?? 50);
			},
		},

		/** Applies a recorded event again (REPL): one that failed or was left half-done; an applied one only with `force`. */
		replay: {
			visibility: "public",
			roles: PRIVILEGED,
			params: { id: { type: "string", min: 1 }, force: { type: "boolean", optional: true, convert: true } },
			handler(ctx: Context<ReplayParams>): Promise<InboxEntry> {
				const { id, force = false } = ctx.params;
				return this.queue.run(id, async () => toEntry((await this.inbox.apply(ctx, id, force, (c, doc) => this.applyEvent(c, doc))).doc));
			},
		},
	},

	methods: {
		/** Records a verified event (once per id), then applies it unless it was applied before. */
		receive(ctx: Context, source: WebhookSource, eventId: string, type: string, payload: string): Promise<WebhookAnswer> {
			const id = `${source}:${eventId}`;
			return this.queue.run(id, async () => {
				if (await this.inbox.record(source, eventId, type, payload)) {
					await emitDomainEvent(this, ctx, "communication.webhook_received", { id, source, eventId, type }, { webhookId: id });
				}
				const { doc, duplicate } = await this.inbox.apply(ctx, id, false, (c, d) => this.applyEvent(c, d));
				return answer(doc, duplicate);
			});
		},

		applyEvent(ctx: Context<unknown, CallerMeta>, doc: InboxDoc): Promise<Settled> {
			// A signed delivery has no user: the writes it makes are the webhooks service's (a replay keeps its operator).
			ctx.meta.user ??= serviceCaller("webhooks");
			const payload = JSON.parse(doc.payload) as unknown;
			// Both were checked when they were received, so they parse.
			if (doc.source === "clerk") return applyClerkPlan(ctx, planClerkEvent(clerkEnvelope.parse(payload)));
			return applyRevenueCatPlan(ctx, planRevenueCatEvent(revenueCatBody.parse(payload).event), {
				ownerOf: ids => this.ownerOf(ctx, ids),
				heldSubscription: userId => this.inbox.heldSubscription(userId, doc._id),
				orderingMark: async ownerId =>
					(await ctx.call<SubscriptionState | null, { ownerId: string }>("vendors.getSubscription", { ownerId }))?.updatedAt ?? null,
			});
		},

		/**
		 * The user an event belongs to: the first known one among `ids`, else the first id itself,
		 * so a purchase made before the user first signed in is held for their vendors to come.
		 */
		async ownerOf(ctx: Context, ids: string[]): Promise<string | null> {
			if (ids.length === 0) return null;
			const user = await ctx.call<{ id: string } | null, LookupParams>("users.lookup", { ids: ids.slice(0, LOOKUP_MAX) });
			return user?.id ?? ids[0]!;
		},
	},

	created() {
		this.queue = new KeyedQueue();
		this.inbox = new WebhookInbox(this.adapter, this.logger);
	},
};

export default WebhooksService;
