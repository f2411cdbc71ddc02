import { timingSafeEqual } from "node:crypto";
import { svixSign } from "../../lib/standard-webhooks.ts";

/** Svix (Standard Webhooks) verification, as Clerk uses it (the signing itself: lib/standard-webhooks.ts). */

/** Svix refuses messages whose timestamp is further than this from now, either way. */
export const SVIX_TOLERANCE_S = 5 * 60;

export type SvixHeaders = { id: string; timestamp: string; signature: string };

export type SvixFailure = "MISSING_HEADERS" | "BAD_TIMESTAMP" | "STALE_TIMESTAMP" | "FUTURE_TIMESTAMP" | "BAD_SIGNATURE";

export type SvixResult = { ok: true; id: string; timestamp: number } | { ok: false; reason: SvixFailure; message: string };

type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
	const value = headers[name] ?? headers[name.toLowerCase()];
	return Array.isArray(value) ? value[0] : value;
}

/** Reads `svix-*`, falling back to the unbranded `webhook-*` headers; undefined when any is missing. */
export function svixHeaders(headers: HeaderBag): SvixHeaders | undefined {
	for (const prefix of ["svix", "webhook"]) {
		const id = header(headers, `${prefix}-id`);
		const timestamp = header(headers, `${prefix}-timestamp`);
		const signature = header(headers, `${prefix}-signature`);
		if (id && timestamp && signature) return { id, timestamp, signature };
	}
	return undefined;
}

function sameText(a: string, b: string): boolean {
	const left = Buffer.from(a);
	const right = Buffer.from(b);
	return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Verifies a Svix-signed message over the body exactly as received. The signature header may
 * carry several space-separated `v1,<sig>` entries (key rotation); any matching v1 entry passes,
 * other versions are ignored.
 */
export function verifySvix(secret: string, headers: HeaderBag, body: string | Buffer, nowMs = Date.now()): SvixResult {
	const h = svixHeaders(headers);
	if (!h) return { ok: false, reason: "MISSING_HEADERS", message: "svix-id, svix-timestamp and svix-signature headers are required" };
	if (!/^\d{1,12}$/.test(h.timestamp)) return { ok: false, reason: "BAD_TIMESTAMP", message: "svix-timestamp must be Unix seconds" };
	const timestamp = Number(h.timestamp);
	const nowS = Math.floor(nowMs / 1000);
	if (timestamp < nowS - SVIX_TOLERANCE_S) return { ok: false, reason: "STALE_TIMESTAMP", message: "Message timestamp too old" };
	if (timestamp > nowS + SVIX_TOLERANCE_S)
		return { ok: false, reason: "FUTURE_TIMESTAMP", message: "Message timestamp too far in the future" };

	const expected = svixSign(secret, h.id, h.timestamp, body).slice("v1,".length);
	let matched = false;
	for (const entry of h.signature.split(" ")) {
		const comma = entry.indexOf(",");
		if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
		// No early exit: every entry is compared, so timing says nothing about which one matched.
		if (sameText(entry.slice(comma + 1), expected)) matched = true;
	}
	return matched ? { ok: true, id: h.id, timestamp } : { ok: false, reason: "BAD_SIGNATURE", message: "No matching signature" };
}
