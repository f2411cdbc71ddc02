import { ConfigError, loadConfig, type Config } from "./config/index.ts";
import { createEngine } from "./lib/engine.ts";

/** The whole shutdown, drain included, must finish within this. */
const SHUTDOWN_LIMIT_MS = 10_000;

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

const config = readConfig();
const broker = await createEngine(config);
const logger = broker.getLogger("server");

let stopping = false;
async function shutdown(signal: string): Promise<void> {
	if (stopping) return;
	stopping = true;
	logger.info({ signal }, "Shutting down: draining in-flight work");
	setTimeout(() => {
		logger.error("Shutdown did not finish in time; exiting");
		process.exit(1);
	}, SHUTDOWN_LIMIT_MS).unref();
	try {
		await broker.stop();
		process.exit(0);
	} catch (err) {
		logger.error({ err }, "Shutdown failed");
		process.exit(1);
	}
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("unhandledRejection", err => logger.error({ err }, "Unhandled rejection"));

try {
	await broker.start();
} catch (err) {
	logger.fatal({ err: (err as Error).message }, "Start-up failed");
	await broker.stop().catch(() => undefined);
	process.exit(1);
}
