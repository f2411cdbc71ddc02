import type { Context } from "moleculer";
import { z } from "zod";
import { USER_ID } from "../../lib/ids.ts";
import { isRole } from "../../lib/identity.ts";
import type { ClerkProfile, UpsertFromClerkParams, UpsertFromClerkResult } from "../users/contract.ts";
import type { DetachOwnerParams } from "../vendors/contract.ts";
import { WEBHOOK_CLOCK_SKEW_MS } from "./contract.ts";
import { applied, skipped, type Settled } from "./inbox.ts";

/** Clerk webhook events (delivered through Svix): envelope shape and user mapping. */

const text = z.string().nullish();
/** Epoch milliseconds that a Date can hold. */
const epochMs = z.number().int().min(0).max(8.64e15).nullish();

/** The envelope; `data` stays loose because every event type has its own. */
export const clerkEnvelope = z.looseObject({
	type: z.string().min(1).max(100),
	object: z.string().nullish(),
	data: z.looseObject({}),
});
export type ClerkEnvelope = z.infer<typeof clerkEnvelope>;

const clerkUser = z.looseObject({
	id: z.string().regex(USER_ID),
	email_addresses: z.array(z.looseObject({ id: z.string(), email_address: z.string() })).nullish(),
	primary_email_address_id: text,
	first_name: text,
	last_name: text,
	image_url: text,
	public_metadata: z.looseObject({ role: z.unknown().optional() }).nullish(),
	/** When Clerk last changed the user: orders deliveries, which Svix does not. */
	updated_at: epochMs,
});

const deletedUser = z.looseObject({ id: z.string().regex(USER_ID) });

export type ClerkPlan =
	| { kind: "upsert"; profile: ClerkProfile }
	| { kind: "delete"; userId: string }
	/** Recorded and acknowledged, nothing to apply. */
	| { kind: "record"; reason: "event_type_not_used" | "future_timestamp" };

/** A field that does not fit its event type is a 422 for the sender, with the paths listed. */
export class ClerkPayloadError extends Error {
	override name = "ClerkPayloadError";
	fields: string[];
	constructor(fields: string[]) {
		super(`Invalid Clerk event data: ${fields.join(", ")}`);
		this.fields = fields;
	}
}

function parseData<T>(schema: z.ZodType<T>, data: unknown): T {
	const parsed = schema.safeParse(data);
	if (!parsed.success) throw new ClerkPayloadError(parsed.error.issues.map(i => ["data", ...i.path].join(".")));
	return parsed.data;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The user's profile as Clerk describes it; the e-mail is the one `primary_email_address_id` names. */
export function clerkProfile(data: unknown): ClerkProfile {
	const user = parseData(clerkUser, data);
	const email = user.email_addresses?.find(e => e.id === user.primary_email_address_id)?.email_address;
	const role = user.public_metadata?.role;
	const profile: ClerkProfile = { id: user.id };
	// What users.upsertFromClerk would refuse is left out rather than failing every retry of the event.
	if (email && email.length <= 254 && EMAIL.test(email)) profile.email = email;
	if (user.first_name) profile.firstName = user.first_name.trim().slice(0, 100);
	if (user.last_name) profile.lastName = user.last_name.trim().slice(0, 100);
	if (user.image_url && user.image_url.length <= 2048 && /^https?:\/\/\S+$/i.test(user.image_url)) profile.imageUrl = user.image_url;
	if (isRole(role)) profile.role = role;
	if (typeof user.updated_at === "number") profile.clerkUpdatedAt = user.updated_at;
	return profile;
}

/**
 * What an event asks of the users and vendors services, evaluated at `nowMs`: a profile claiming
 * to be from beyond now + WEBHOOK_CLOCK_SKEW_MS would outrank every real one, so it is not applied.
 */
export function planClerkEvent(event: ClerkEnvelope, nowMs = Date.now()): ClerkPlan {
	switch (event.type) {
		case "user.created":
		case "user.updated": {
			const profile = clerkProfile(event.data);
			if ((profile.clerkUpdatedAt ?? 0) > nowMs + WEBHOOK_CLOCK_SKEW_MS) return { kind: "record", reason: "future_timestamp" };
			return { kind: "upsert", profile };
		}
		case "user.deleted":
			return { kind: "delete", userId: parseData(deletedUser, event.data).id };
		default:
			return { kind: "record", reason: "event_type_not_used" };
	}
}

/** Applies a planned Clerk event through the users and vendors services; what it came to, for the inbox. */
export async function applyClerkPlan(ctx: Context, plan: ClerkPlan): Promise<Settled> {
	switch (plan.kind) {
		case "upsert": {
			const user = await ctx.call<UpsertFromClerkResult, UpsertFromClerkParams>("users.upsertFromClerk", plan.profile);
			const result = { userId: plan.profile.id };
			if (user.outcome === "stale") return skipped("older_than_current", result);
			// A deleted user is not brought back: Clerk never updates a user after deleting it, so this is a late delivery.
			if (user.outcome === "deleted") return skipped("user_deleted", result);
			return applied({ ...result, action: "upserted" });
		}
		case "delete": {
			// Vendors first: should removing the user fail, the retry finds them detached already.
			const vendorIds = await ctx.call<string[], DetachOwnerParams>("vendors.detachOwner", { ownerId: plan.userId });
			try {
				await ctx.call("users.remove", { id: plan.userId });
			} catch (err) {
				// A user this system never saw: there is nothing to delete.
				if ((err as { type?: string }).type !== "NOT_FOUND") throw err;
			}
			return applied({ userId: plan.userId, action: "deleted", vendorIds });
		}
		case "record":
			return skipped(plan.reason);
	}
}
