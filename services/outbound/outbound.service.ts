import type { Context } from "moleculer";
import type { VentaServiceSchema } from "../../config/settings.ts";
import { badRequest, notFound } from "../../lib/errors.ts";
import { DOMAIN_EVENTS, type DomainEvent, type DomainEventName } from "../../lib/events.ts";
import { PRIVILEGED, type Caller, type CallerMeta } from "../../lib/identity.ts";
import { createDbMixin, type DbMethods } from "../../mixins/db.mixin.ts";
import { natsConnectionOptions } from "../../runtime/nats.ts";
import {
	CREATED_ENDPOINT_SCHEMA,
	DELIVERY_LIST_MAX,
	DELIVERY_STATUSES,
	ENDPOINT_DELETED_SCHEMA,
	ENDPOINT_LIST_SCHEMA,
	ENDPOINT_SCHEMA,
	MAX_ENDPOINT_URL,
	type CreatedEndpoint,
	type DeliveriesParams,
	type Delivery,
	type EndpointIdParams,
	type EndpointInput,
	type ReplayParams,
	type ReplayResult,
	type WebhookEndpoint,
} from "./contract.ts";
import { DELIVERY_INDEXES, DeliveryLog, deliveryId } from "./deliveries.ts";
import { Dispatcher, registerOutboundMetrics } from "./dispatch.ts";
import { EndpointStore } from "./endpoints.ts";
import { JetStreamQueue } from "./jetstream.ts";
import { Outbox, type DeliveryQueue } from "./outbox.ts";

type OutboundMethods = {
	fanOut(name: DomainEventName, event: DomainEvent): Promise<void>;
	queue(id: string, replay: boolean): Promise<boolean>;
};
type OutboundVars = { endpoints: EndpointStore; log: DeliveryLog; deliveryQueue: DeliveryQueue };
type CreatedMeta = CallerMeta & { $statusCode?: number };

const idParam = { type: "string", min: 1, max: 64 } as const;
const caller = (ctx: Context<unknown, CallerMeta>): Caller => ctx.meta.user as Caller;

/** Every domain event, each handed to fanOut (Moleculer balances an event to one outbound instance). */
const EVENT_HANDLERS = Object.fromEntries(
	DOMAIN_EVENTS.map(name => [
		name,
		function (this: OutboundMethods, ctx: Context<DomainEvent>) {
			return this.fanOut(name, ctx.params);
		},
	])
);

/** Outbound webhooks: operators' endpoints, each domain event they name signed and delivered at least once. */
const OutboundService: VentaServiceSchema<{ rest: string }, OutboundMethods & DbMethods, OutboundVars> = {
	name: "outbound",
	mixins: [createDbMixin("webhook_endpoints")],
	settings: { rest: "/admin/webhook-endpoints" },

	actions: {
		/** `POST /api/admin/webhook-endpoints` — the answer is the only place the secret is shown. */
		createEndpoint: {
			rest: "POST /",
			auth: "required",
			roles: PRIVILEGED,
			params: {
				$$strict: true,
				url: { type: "string", min: 1, max: MAX_ENDPOINT_URL },
				events: { type: "array", min: 1, max: DOMAIN_EVENTS.length, items: { type: "enum", values: [...DOMAIN_EVENTS] } },
				secret: { type: "string", pattern: /^whsec_[A-Za-z0-9+/]{24,}={0,2}$/, optional: true },
				enabled: { type: "boolean", optional: true },
				description: { type: "string", max: 200, optional: true },
			},
			openapi: { responses: { 201: CREATED_ENDPOINT_SCHEMA }, errors: [409] },
			async handler(ctx: Context<EndpointInput, CreatedMeta>): Promise<CreatedEndpoint> {
				const created = await this.endpoints.create(ctx.params, caller(ctx).id);
				ctx.meta.$statusCode = 201;
				return created;
			},
		},

		/** `GET /api/admin/webhook-endpoints` — never the secrets. */
		listEndpoints: {
			rest: "GET /",
			auth: "required",
			roles: PRIVILEGED,
			params: { $$strict: true },
			openapi: { responses: { 200: ENDPOINT_LIST_SCHEMA } },
			async handler(): Promise<{ rows: WebhookEndpoint[]; total: number }> {
				const rows = await this.endpoints.list();
				return { rows, total: rows.length };
			},
		},

		/** `PATCH /api/admin/webhook-endpoints/:id` — switches an endpoint off or on (a disabled one gets nothing new). */
		updateEndpoint: {
			rest: "PATCH /:id",
			auth: "required",
			roles: PRIVILEGED,
			params: { $$strict: true, id: idParam, enabled: { type: "boolean" } },
			openapi: { responses: { 200: ENDPOINT_SCHEMA } },
			handler(ctx: Context<EndpointIdParams & { enabled: boolean }>): Promise<WebhookEndpoint> {
				return this.endpoints.setEnabled(ctx.params.id, ctx.params.enabled);
			},
		},

		/** `DELETE /api/admin/webhook-endpoints/:id` — deliveries still queued for it are dead-lettered when due. */
		removeEndpoint: {
			rest: "DELETE /:id",
			auth: "required",
			roles: PRIVILEGED,
			params: { $$strict: true, id: idParam },
			openapi: { responses: { 200: ENDPOINT_DELETED_SCHEMA } },
			async handler(ctx: Context<EndpointIdParams>): Promise<{ id: string; deleted: true }> {
				await this.endpoints.remove(ctx.params.id);
				return { id: ctx.params.id, deleted: true };
			},
		},

		/** Deliveries, newest first (REPL): pending, retrying (failed, another attempt due), delivered, dead. */
		deliveries: {
			visibility: "public",
			roles: PRIVILEGED,
			params: {
				status: { type: "enum", values: [...DELIVERY_STATUSES], optional: true },
				endpointId: { ...idParam, optional: true },
				limit: { type: "number", integer: true, min: 1, max: DELIVERY_LIST_MAX, optional: true, convert: true },
			},
			handler(ctx: Context<DeliveriesParams>): Promise<Delivery[]> {
				return this.log.list(ctx.params, ctx.params.limit ?? 50);
			},
		},

		/** Sends dead deliveries again (REPL): one by id, or every dead one of an endpoint; same `webhook-id`, a fresh round of retries. */
		replay: {
			visibility: "public",
			roles: PRIVILEGED,
			params: { id: { ...idParam, optional: true }, endpointId: { ...idParam, optional: true } },
			async handler(ctx: Context<ReplayParams>): Promise<ReplayResult> {
				const { id, endpointId } = ctx.params;
				if (!id === !endpointId) throw badRequest("Give a delivery id or an endpointId", "BAD_REQUEST");
				const ids = id ? [id] : (await this.log.list({ status: "dead", endpointId }, DELIVERY_LIST_MAX)).map(d => d.id);
				const replayed: string[] = [];
				for (const one of ids) {
					if ((await this.log.requeue(one)) > 0 && (await this.queue(one, true))) replayed.push(one);
				}
				if (id && replayed.length === 0) throw notFound(`No dead delivery ${id}`, { id });
				this.logger.info({ requestId: ctx.requestID, replayed, by: (ctx.meta as CallerMeta).user?.id }, "Outbound deliveries replayed");
				return { replayed };
			},
		},
	},

	events: EVENT_HANDLERS,

	methods: {
		/** Records one delivery per matching endpoint, durably, then hands it to the queue. */
		async fanOut(name: DomainEventName, event: DomainEvent): Promise<void> {
			const endpoints = await this.endpoints.matching(name);
			if (endpoints.length === 0) return;
			const body = JSON.stringify({ type: name, ...event });
			for (const endpoint of endpoints) {
				const id = deliveryId(event.meta.eventId, endpoint._id);
				const fields = { _id: id, endpointId: endpoint._id, event: name, eventId: event.meta.eventId, eventAt: event.meta.timestamp, body };
				if (await this.log.record(fields)) await this.queue(id, false);
			}
		},

		/** Hands a recorded delivery to the queue; one that could not be queued is dead at once, so the operator sees it and can replay it. */
		async queue(id: string, replay: boolean): Promise<boolean> {
			try {
				await (replay ? this.deliveryQueue.replay(id) : this.deliveryQueue.enqueue(id));
				return true;
			} catch (err) {
				const error = `not queued: ${(err as Error).message}`;
				await this.log.failed(id, 0, { status: null, error }, null);
				this.logger.error({ delivery: id, err: error }, "Outbound delivery could not be queued");
				return false;
			}
		},
	},

	created() {
		registerOutboundMetrics(this.broker.metrics);
		this.endpoints = new EndpointStore(this.adapter);
	},

	async started() {
		const { config } = this.settings;
		this.log = new DeliveryLog(await this.openStore("outbound_deliveries", DELIVERY_INDEXES));
		const { retryScheduleS: scheduleS, timeoutMs } = config.outbound;
		const dispatcher = new Dispatcher({
			log: this.log,
			endpoints: this.endpoints,
			scheduleS,
			timeoutMs,
			metrics: this.broker.metrics,
			logger: this.logger,
		});
		this.deliveryQueue = config.natsUrl
			? new JetStreamQueue(
					{
						connection: natsConnectionOptions(config.natsUrl, config.nats),
						namespace: config.namespace,
						timeoutMs,
						name: `outbound@${this.broker.nodeID}`,
					},
					this.log,
					dispatcher,
					this.logger
				)
			: new Outbox(this.log, dispatcher, timeoutMs, this.logger);
		await this.deliveryQueue.start();
	},

	async stopped() {
		await this.deliveryQueue?.stop();
	},
};

export default OutboundService;
