import { createHmac, randomBytes } from "node:crypto";

/**
 * The Standard Webhooks (Svix) signature scheme, both ways: the inbound Clerk webhooks verify it
 * (services/webhooks/svix.ts), the outbound webhooks sign with it (services/outbound/).
 */

/** Prefix of a Standard Webhooks secret; the rest is the base64 HMAC key. */
export const SECRET_PREFIX = "whsec_";

/** The HMAC key: the secret without its `whsec_` prefix, base64-decoded. */
export function svixKey(secret: string): Buffer {
	return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` — what a sender puts in the signature header. */
export function svixSign(secret: string, id: string, timestamp: number | string, body: string | Buffer): string {
	const mac = createHmac("sha256", svixKey(secret)).update(`${id}.${timestamp}.`).update(body).digest("base64");
	return `v1,${mac}`;
}

/** A new secret: `whsec_` and 32 random bytes in base64 (the key size Svix generates). */
export const newSecret = (): string => `${SECRET_PREFIX}${randomBytes(32).toString("base64")}`;

/** The headers of one signed message (`webhook-*`, the unbranded names). */
export function signedHeaders(secret: string, id: string, timestampS: number, body: string): Record<string, string> {
	return { "webhook-id": id, "webhook-timestamp": String(timestampS), "webhook-signature": svixSign(secret, id, timestampS, body) };
}
