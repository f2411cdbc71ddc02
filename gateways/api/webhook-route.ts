import type { IncomingMessage } from "node:http";
import type { Context } from "moleculer";
import type { WebhookParams } from "../../services/webhooks/contract.ts";

type WebhookRequest = IncomingMessage & { body?: unknown; $params?: unknown };

/** The headers a webhook action reads; nothing else leaves the gateway. */
const FORWARDED_HEADER = /^(svix-|webhook-)(id|timestamp|signature)$|^authorization$/;

/**
 * `/webhooks/*`: the body is read raw (any content type, at most `bodyLimit`) and handed to the
 * action as text together with the signing headers, so signatures are checked over exactly the
 * bytes that were sent. No token authentication: each action verifies its sender. Body
 * parser errors (413, …) take the gateway's error format.
 */
export function webhookRoute(bodyLimit: string, verify: (req: unknown, res: unknown, body: Buffer) => void) {
	return {
		path: "/webhooks",
		mappingPolicy: "restrict",
		mergeParams: false,
		aliases: {
			"POST clerk": "webhooks.clerk",
			"POST revenuecat": "webhooks.revenuecat",
		},
		bodyParsers: { json: false, urlencoded: false, raw: { type: () => true, limit: bodyLimit, inflate: false, verify } },

		onBeforeCall(_ctx: Context, _route: unknown, req: WebhookRequest) {
			const headers: WebhookParams["headers"] = {};
			for (const [name, value] of Object.entries(req.headers)) if (FORWARDED_HEADER.test(name)) headers[name] = value;
			// JSON is UTF-8; bytes that are not would change here and fail the signature check.
			const body = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
			req.$params = { body, headers } satisfies WebhookParams;
		},
	};
}
