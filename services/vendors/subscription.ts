import { PRIVILEGED } from "../../lib/identity.ts";
import type { Context } from "moleculer";
import { servicePart, type VentaService } from "../../config/settings.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { userIdParam } from "../../lib/ids.ts";
import type { DbMethods } from "../../mixins/db.mixin.ts";
import type { SetSubscriptionParams, SubscriptionState } from "./contract.ts";
import { statusChanged, type VendorsState } from "./records.ts";

type SubscriptionThis = VentaService<object, DbMethods, VendorsState>;

const iso = (d: string | Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);
const timeOf = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NEGATIVE_INFINITY);

/** Subscription state per owner (RevenueCat, through the webhooks service), mixed into the vendors service. */
export const subscriptionActions = servicePart<object, DbMethods, VendorsState>({
	actions: {
		/** The owner's subscription as last set (null: never): its `updatedAt` is the mark RevenueCat events are ordered by. */
		getSubscription: {
			params: { $$strict: true, ownerId: userIdParam },
			async handler(this: SubscriptionThis, ctx: Context<{ ownerId: string }>): Promise<SubscriptionState | null> {
				const held: (SubscriptionState & { _id: string }) | null = await this.subscriptionStore.findById(ctx.params.ownerId);
				if (!held) return null;
				const { _id, ...subscription } = held;
				return subscription;
			},
		},

		/**
		 * The owner's subscription, kept for vendors they onboard later and applied to every vendor
		 * they own now; an update older than the stored one is ignored. Returns the vendors it changed.
		 */
		setSubscription: {
			roles: PRIVILEGED,
			params: {
				$$strict: true,
				ownerId: userIdParam,
				subscription: {
					type: "object",
					strict: true,
					props: {
						active: "boolean",
						entitlements: { type: "array", items: { type: "string", max: 100 }, max: 50 },
						expiresAt: { type: "date", convert: true, optional: true, nullable: true },
						store: { type: "string", max: 40, optional: true, nullable: true },
						environment: { type: "string", max: 40, optional: true, nullable: true },
						updatedAt: { type: "date", convert: true, optional: true, nullable: true },
					},
				},
			},
			async handler(this: SubscriptionThis, ctx: Context<SetSubscriptionParams>): Promise<string[]> {
				const { ownerId, subscription: s } = ctx.params;
				const subscription: SubscriptionState = {
					active: s.active,
					entitlements: s.entitlements,
					expiresAt: iso(s.expiresAt),
					store: s.store ?? null,
					environment: s.environment ?? null,
					updatedAt: iso(s.updatedAt) ?? new Date().toISOString(),
				};
				const isNewer = (stored: SubscriptionState | undefined) => timeOf(stored?.updatedAt) <= timeOf(subscription.updatedAt);

				const held: SubscriptionState | null = await this.subscriptionStore.findById(ownerId);
				if (!held)
					await this.subscriptionStore
						.insert({ _id: ownerId, ...subscription })
						.catch(() => this.subscriptionStore.updateMany({ _id: ownerId }, { $set: subscription }));
				else if (isNewer(held)) await this.subscriptionStore.updateMany({ _id: ownerId }, { $set: subscription });

				const affected: string[] = [];
				for (const before of await this.records.findMany({ ownerId, deletedAt: null })) {
					if (!isNewer(before.subscription)) continue;
					const after = await this.records.write(before.id, { subscription });
					affected.push(before.id);
					if (this.records.canBroadcast(before) !== this.records.canBroadcast(after)) await statusChanged(this, ctx, before, after);
				}
				await emitDomainEvent(
					this,
					ctx,
					"payments.subscription_changed",
					{ ownerId, vendorIds: affected, subscription },
					{ userId: ownerId }
				);
				return affected;
			},
		},
	},
});
