import { describe, expect, it } from "vitest";
import { clerkEnvelope, planClerkEvent } from "../../../../services/webhooks/clerk.ts";

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
		expect(planClerkEvent(clerkEnvelope.parse({ type: "session.created", data: {} }))).toEqual({ kind: "record" });
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
