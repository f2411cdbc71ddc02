import { signedHeaders } from "../../lib/standard-webhooks.ts";
import { RESPONSE_SNIPPET_MAX } from "./contract.ts";

/** What one HTTP attempt came to: 2xx is `ok`; anything else, no answer or a timeout is a failure. */
export type SendResult = { ok: boolean; status: number | null; error: string | null };

/** One signed message: where, with which secret, the `webhook-id` and the body. */
export type Message = { url: string; secret: string; id: string; body: string };

/** The first RESPONSE_SNIPPET_MAX characters of an answer: never more of a receiver's body is kept or logged. */
async function snippet(res: Response): Promise<string> {
	const reader = res.body?.getReader();
	if (!reader) return "";
	const decoder = new TextDecoder();
	let text = "";
	while (text.length < RESPONSE_SNIPPET_MAX) {
		const { done, value } = await reader.read();
		if (done) break;
		text += decoder.decode(value, { stream: true });
	}
	await reader.cancel().catch(() => undefined);
	return text.slice(0, RESPONSE_SNIPPET_MAX);
}

/**
 * POSTs the message signed in the Standard Webhooks scheme, timestamped now (each attempt is
 * signed afresh: receivers refuse stale timestamps), without following redirects.
 */
export async function sendSigned(message: Message, timeoutMs: number): Promise<SendResult> {
	const headers = {
		"content-type": "application/json",
		"user-agent": "Venta-Webhooks/1",
		...signedHeaders(message.secret, message.id, Math.floor(Date.now() / 1000), message.body),
	};
	try {
		const res = await fetch(message.url, {
			method: "POST",
			headers,
			body: message.body,
			redirect: "manual",
			signal: AbortSignal.timeout(timeoutMs),
		});
		if (res.status >= 200 && res.status < 300) {
			await res.body?.cancel().catch(() => undefined);
			return { ok: true, status: res.status, error: null };
		}
		const text = await snippet(res).catch(() => "");
		return { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text}` : ""}` };
	} catch (err) {
		const e = err as Error;
		const error = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e.cause as Error | undefined)?.message || e.message;
		return { ok: false, status: null, error };
	}
}
