import { readFileSync } from "node:fs";
import { credsAuthenticator, type ConnectionOptions } from "nats";
import type { NatsSecurity } from "../config/index.ts";

/**
 * The options of every NATS connection a node opens (Moleculer's transporter and the live
 * gateway's routing link), so both carry the same credentials and TLS:
 * - `nats://user:password@host` → user/password; `nats://token@host` → token;
 * - NATS_CREDS_FILE → a user JWT + nkey seed (decentralised auth);
 * - `tls://` or NATS_TLS_CA / NATS_TLS_CERT (+ NATS_TLS_KEY) → TLS, with a client certificate
 *   when given.
 * Servers are passed without their user info, so credentials never appear in a server list
 * that a library might log.
 */
export function natsConnectionOptions(url: string, security: NatsSecurity): ConnectionOptions {
	const urls = url.split(",").map(u => new URL(u.trim()));
	const first = urls[0]!;
	const user = decodeURIComponent(first.username);
	const password = decodeURIComponent(first.password);
	const credentials: ConnectionOptions = user === "" ? {} : password === "" ? { token: user } : { user, pass: password };
	const { credsFile, tls } = security;
	return {
		servers: urls.map(u => u.host),
		...credentials,
		...(credsFile ? { authenticator: credsAuthenticator(readFileSync(credsFile)) } : {}),
		...(tls
			? {
					tls: {
						...(tls.ca ? { caFile: tls.ca } : {}),
						...(tls.cert ? { certFile: tls.cert, keyFile: tls.key } : {}),
					},
				}
			: {}),
	};
}
