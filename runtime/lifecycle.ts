import type { ServiceBroker } from "moleculer";

/** A gateway implements this to stop taking new connections as soon as shutdown begins. */
export type Drainable = { stopAccepting(): Promise<void> | void };

/** The whole shutdown, drain included, must finish within this. */
export const SHUTDOWN_LIMIT_MS = 10_000;

/**
 * Starts the broker and stops it on SIGTERM/SIGINT: gateways stop accepting, in-flight calls
 * drain (Moleculer's request tracking), transports close, and the process exits 0 — or 1 if
 * that takes longer than SHUTDOWN_LIMIT_MS.
 */
export async function runUntilSignalled(broker: ServiceBroker): Promise<void> {
	const logger = broker.getLogger("lifecycle");
	let stopping = false;
	const shutdown = async (signal: string) => {
		if (stopping) return;
		stopping = true;
		logger.info({ signal }, "Shutting down: draining in-flight work");
		setTimeout(() => {
			logger.error("Shutdown did not finish in time; exiting");
			process.exit(1);
		}, SHUTDOWN_LIMIT_MS).unref();
		try {
			await Promise.all(broker.services.map(service => (service as unknown as Partial<Drainable>).stopAccepting?.call(service)));
			await broker.stop();
			process.exit(0);
		} catch (err) {
			logger.error({ err }, "Shutdown failed");
			process.exit(1);
		}
	};
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
}
