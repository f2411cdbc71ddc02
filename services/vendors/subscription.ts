import { PRIVILEGED } from "../../lib/identity.ts";
import type { Context } from "moleculer";
import { servicePart, type VentaService } from "../../config/settings.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { userIdParam } from "../../lib/ids.ts";
import { validationError } from "../../lib/errors.ts";
import type { DbMethods, Store } from "../../mixins/db.mixin.ts";
import type { SetSubscriptionParams, SubscriptionState } from "./contract.ts";
import type { VendorDoc } from "./model.ts";
import { statusChanged, type VendorRecords, type VendorsState } from "./records.ts";

type SubscriptionThis = VentaService<object, DbMethods, VendorsState>;
/** A state with its ordering mark: an ISO time of years 0000–9999, so that marks sort as strings the way they sort as times. */
type MarkedState = SubscriptionState & { updatedAt: string };

const iso = (d: string | Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);
const timeOf = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NEGATIVE_INFINITY);
const FOUR_DIGIT_YEAR = /^\d{4}-/;

/** The store query for "no newer subscription held at `field`" (absent, null or not later: an equal mark is a repeat). */
const notNewerThan = (field: string, updatedAt: string) => ({
	$or: [{ [field]: { $exists: false } }, { [field]: null }, { [field]: { $lte: updatedAt } }],
});

/**
 * Keeps `subscription` as the owner's unless a newer one is held, decided by the store: the first
 * one is an insert on the unique owner id, any other one a conditional update (also for the loser of
 * two first inserts). Whether it was taken.
 */
export async function keepSubscription(store: Store, ownerId: string, subscription: MarkedState): Promise<boolean> {
	const replace = async () =>
		(await store.updateMany({ _id: ownerId, ...notNewerThan("updatedAt", subscription.updatedAt) }, { $set: subscription })) > 0;
	if (await store.findById(ownerId)) return replace();
	return store.insert({ _id: ownerId, ...subscription }).then(() => true, replace);
}

/**
 * Sets `subscription` on every live vendor of the owner holding an older one: one conditional
 * update per vendor, so an older state written at the same moment on another node cannot win.
 * `before` is the vendor as read before its write.
 */
export async function applyToVendors(
	records: VendorRecords,
	ownerId: string,
	subscription: MarkedState
): Promise<{ before: VendorDoc; after: VendorDoc }[]> {
	const condition = { deletedAt: null, ...notNewerThan("subscription.updatedAt", subscription.updatedAt) };
	const changed: { before: VendorDoc; after: VendorDoc }[] = [];
	for (const before of await records.findMany({ ownerId, deletedAt: null })) {
		if (timeOf(before.subscription?.updatedAt) > timeOf(subscription.updatedAt)) continue;
		const after = await records.writeIf(before.id, condition, { subscription });
		if (after) changed.push({ before, after });
	}
	return changed;
}

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
		 * they own now; an update older than the one held is ignored (by each document's own conditional
		 * write, so also when two arrive at once). Returns the vendors it changed.
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
				const subscription: MarkedState = {
					active: s.active,
					entitlements: s.entitlements,
					expiresAt: iso(s.expiresAt),
					store: s.store ?? null,
					environment: s.environment ?? null,
					updatedAt: iso(s.updatedAt) ?? new Date().toISOString(),
				};
				if (!FOUR_DIGIT_YEAR.test(subscription.updatedAt))
					throw validationError("subscription.updatedAt must be in the years 0000 to 9999", [
						{ type: "date", field: "subscription.updatedAt", message: "must be in the years 0000 to 9999" },
					]);

				const kept = await keepSubscription(this.subscriptionStore, ownerId, subscription);
				const changed = await applyToVendors(this.records, ownerId, subscription);
				for (const { before, after } of changed)
					if (this.records.canBroadcast(before) !== this.records.canBroadcast(after)) await statusChanged(this, ctx, before, after);
				const affected = changed.map(({ after }) => after.id);
				// A state a newer one beat (delivered at the same moment elsewhere) changed nothing: no event.
				if (kept || affected.length > 0)
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
