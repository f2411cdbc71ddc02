import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/index.ts";
import { mintDevToken } from "../lib/auth.ts";

const USAGE = "usage: npm run token -- --sub <user id> [--ttl <seconds>]";

try {
	const { values } = parseArgs({ options: { sub: { type: "string" }, ttl: { type: "string", default: "86400" } } });
	const ttl = Number(values.ttl);
	if (!values.sub || !Number.isInteger(ttl) || ttl <= 0) throw new Error(USAGE);
	const config = loadConfig();
	if (!config.devSecret) {
		throw new Error(
			config.production ? "dev tokens are refused when NODE_ENV=production" : "no dev secret: unset CLERK_JWT_KEY or set AUTH_DEV_SECRET"
		);
	}
	process.stdout.write(`${await mintDevToken(config.devSecret, values.sub, ttl)}\n`);
} catch (err) {
	process.stderr.write(
		`${err instanceof ConfigError ? err.message : (err as Error).message.startsWith("usage") ? (err as Error).message : `${(err as Error).message}\n${USAGE}`}\n`
	);
	process.exit(2);
}
