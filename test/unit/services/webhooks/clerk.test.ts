import { describe, expect, it } from "vitest";
import { clerkEnvelope, planClerkEvent } from "../../../../services/webhooks/clerk.ts";
import { WEBHOOK_CLOCK_SKEW_MS } from "../../../../services/webhooks/contract.ts";

describe("Clerk event mapping", () => {
	it("resolves the primary e-mail and a valid role; ignores an unknown role", () => {
		const event = clerkEnvelope.parse({
			type: "user.updated",
			data: {
				id: "user_1",
				first_name: "Ada",
				last_name: null,
				primary_email_address_id: "e2",
				email_addresses: [
					{ id: "e1", email_address: "old@example.com" },
					{ id: "e2", email_address: "ada@example.com" },
				],
				public_metadata: { role: "admin" },
			},
		});
		expect(planClerkEvent(event)).toEqual({
			kind: "upsert",
			profile: { id: "user_1", email: "ada@example.com", firstName: "Ada", role: "admin" },
		});
		const odd = clerkEnvelope.parse({ type: "user.created", data: { id: "user_2", public_metadata: { role: "root" } } });
		expect(planClerkEvent(odd)).toEqual({ kind: "upsert", profile: { id: "user_2" } });
		expect(planClerkEvent(clerkEnvelope.parse({ type: "user.deleted", data: { id: "user_2", deleted: true } }))).toEqual({
			kind: "delete",
			userId: "user_2",
		});
		expect(planClerkEvent(clerkEnvelope.parse({ type: "session.created", data: {} }))).toEqual({
			kind: "record",
			reason: "event_type_not_used",
		});
	});

	it("carries Clerk's updated_at as the profile's mark; one beyond the clock skew is not applied", () => {
		const now = Date.UTC(2026, 0, 10);
		const at = (updatedAt: unknown) =>
			planClerkEvent(clerkEnvelope.parse({ type: "user.updated", data: { id: "user_4", updated_at: updatedAt } }), now);
		expect(at(now - 1000)).toEqual({ kind: "upsert", profile: { id: "user_4", clerkUpdatedAt: now - 1000 } });
		expect(at(now + WEBHOOK_CLOCK_SKEW_MS)).toEqual({
			kind: "upsert",
			profile: { id: "user_4", clerkUpdatedAt: now + WEBHOOK_CLOCK_SKEW_MS },
		});
		expect(at(now + WEBHOOK_CLOCK_SKEW_MS + 1)).toEqual({ kind: "record", reason: "future_timestamp" });
		expect(at(null)).toEqual({ kind: "upsert", profile: { id: "user_4" } });
		expect(() => at(1e20)).toThrow(
			expect.objectContaining({ name: "ClerkPayloadError", fields: expect.arrayContaining(["data.updated_at"]) })
		);
	});

	it("leaves out fields the users service would refuse, so the event still applies", () => {
		const event = clerkEnvelope.parse({
			type: "user.created",
			data: {
				id: "user_3",
				first_name: `  ${"A".repeat(150)}`,
				image_url: "data:image/png;base64,AAAA",
				primary_email_address_id: "e1",
				email_addresses: [{ id: "e1", email_address: "not an e-mail" }],
			},
		});
		expect(planClerkEvent(event)).toEqual({ kind: "upsert", profile: { id: "user_3", firstName: "A".repeat(100) } });
	});
});
