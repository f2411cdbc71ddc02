import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const FILE_NAME = "dev-secret";
let memorySecret: string | undefined;

/**
 * The HS256 secret used when no key is configured outside production: generated on first
 * start and kept under DATA_DIR so that `npm start` and `npm run token` agree with no set-up.
 */
export function resolveDevSecret(dataDir: string): string {
	if (dataDir === ":memory:") {
		memorySecret ??= randomBytes(32).toString("base64url");
		return memorySecret;
	}
	const file = join(dataDir, FILE_NAME);
	try {
		return readFileSync(file, "utf8").trim();
	} catch {
		mkdirSync(dataDir, { recursive: true });
		const secret = randomBytes(32).toString("base64url");
		try {
			// "wx": if another process created it meanwhile, theirs wins.
			writeFileSync(file, `${secret}\n`, { flag: "wx", mode: 0o600 });
			return secret;
		} catch {
			return readFileSync(file, "utf8").trim();
		}
	}
}
