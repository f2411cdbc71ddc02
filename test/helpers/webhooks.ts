import { randomBytes, randomUUID } from "node:crypto";
import { svixSign } from "../../lib/standard-webhooks.ts";
import { uniqueNamespace } from "./engine.ts";
import { assertMatchesSpec } from "./openapi.ts";

/** A fresh Clerk-style signing secret. */
export const newWhsec = () => `whsec_${randomBytes(24).toString("base64")}`;

export type SignedDelivery = {
	id?: string;
	timestamp?: number;
	secret: string;
	headerPrefix?: "svix" | "webhook";
	extraSignatures?: string[];
};

/** Headers of a Svix-signed delivery of `body`, signed the way Svix signs (the test's own HMAC). */
export function svixHeaders(body: string, opts: SignedDelivery): Record<string, string> {
	const id = opts.id ?? `msg_${randomUUID().replace(/-/g, "")}`;
	const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
	const prefix = opts.headerPrefix ?? "svix";
	const signature = [...(opts.extraSignatures ?? []), svixSign(opts.secret, id, timestamp, body)].join(" ");
	return {
		"content-type": "application/json",
		[`${prefix}-id`]: id,
		[`${prefix}-timestamp`]: String(timestamp),
		[`${prefix}-signature`]: signature,
	};
}

/** POSTs a body with headers; returns status and parsed JSON (or text), checked against docs/openapi.json. */
export async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: any }> {
	const res = await fetch(url, { method: "POST", body, headers });
	const text = await res.text();
	let json: unknown = text;
	try {
		json = JSON.parse(text);
	} catch {
		/* not JSON: keep the text */
	}
	assertMatchesSpec("POST", url, res.status, res.headers.get("content-type"), json);
	return { status: res.status, json };
}

/** A Clerk user.created / user.updated event body; `updatedAt` is Clerk's `updated_at` (epoch ms, default now). */
export function clerkUserEvent(
	type: "user.created" | "user.updated",
	user: { id: string; email?: string; firstName?: string; lastName?: string; role?: string; updatedAt?: number }
): string {
	const emailId = `idn_${randomUUID().slice(0, 8)}`;
	return JSON.stringify({
		object: "event",
		type,
		timestamp: Date.now(),
		instance_id: "ins_test",
		data: {
			object: "user",
			id: user.id,
			first_name: user.firstName ?? null,
			last_name: user.lastName ?? null,
			image_url: "https://img.example/u.png",
			primary_email_address_id: user.email ? emailId : null,
			email_addresses: user.email
				? [
						{ id: "idn_other", email_address: "secondary@example.com" },
						{ id: emailId, email_address: user.email },
					]
				: [],
			public_metadata: user.role ? { role: user.role } : {},
			updated_at: user.updatedAt ?? Date.now(),
		},
	});
}

/** A RevenueCat webhook body. */
export function revenueCatEvent(event: Record<string, unknown>): string {
	return JSON.stringify({
		api_version: "1.0",
		event: { id: randomUUID(), event_timestamp_ms: Date.now(), store: "APP_STORE", environment: "PRODUCTION", ...event },
	});
}

export const MONGO_URL = process.env.MONGO_URL;
export type StoreKind = "embedded" | "mongo";

/** Engine variables for a store: nothing for the embedded one, a database of its own on Mongo. */
export function storeEnv(store: StoreKind, label: string): Record<string, string> {
	if (store === "embedded") return {};
	const url = new URL(MONGO_URL!);
	url.pathname = `/${uniqueNamespace(`venta-${label}`)}`;
	return { MONGO_URL: url.toString() };
}
