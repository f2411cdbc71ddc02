import { ConfigError, loadConfig, type Config } from "./config/index.ts";
import { createEngine } from "./runtime/engine.ts";
import { runUntilSignalled } from "./runtime/lifecycle.ts";

function readConfig(): Config {
	try {
		return loadConfig();
	} catch (err) {
		if (err instanceof ConfigError) {
			process.stderr.write(`${err.message}\n`);
			process.exit(1);
		}
		throw err;
	}
}

await runUntilSignalled(await createEngine(readConfig()));
