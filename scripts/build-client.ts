/**
 * Builds the SDK (packages/client: ESM and type declarations into packages/client/dist), which
 * Node consumers such as `npm run simulate` import. Runs as `npm run build:client` and from
 * `prepare` on npm install / npm ci, before the map page is bundled.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSC = `${ROOT}node_modules/typescript/bin/tsc`;
const DIST = `${ROOT}packages/client/dist`;

if (!existsSync(TSC) && process.env.npm_lifecycle_event === "prepare") {
	// A production install (dev dependencies omitted) keeps a build made earlier.
	process.stdout.write(
		`@venta/client not rebuilt: typescript is not installed (production install); ${existsSync(DIST) ? "keeping" : "no"} ${DIST}\n`
	);
} else {
	try {
		execFileSync(process.execPath, [TSC, "-p", `${ROOT}packages/client/tsconfig.build.json`], { stdio: "inherit" });
		process.stdout.write(`@venta/client built into ${DIST}\n`);
	} catch {
		process.stderr.write("build:client failed (tsc output above)\n");
		process.exit(1);
	}
}
