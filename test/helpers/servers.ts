import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./engine.ts";
import { freePort } from "./ports.ts";

/**
 * NATS and Redis servers a test owns: started on free ports, stopped and started again by PID.
 * Tests that break servers use these, never the shared ones of the machine.
 */
export type OwnServer = {
	url: string;
	port: number;
	/** Kills the server (SIGKILL: as a crash would) and waits until its port is closed. */
	stop(): Promise<void>;
	/** Starts it again on the same port and waits until it accepts connections. */
	start(): Promise<void>;
};

const portOpen = (port: number) =>
	new Promise<boolean>(resolve => {
		const socket = connect(port, "127.0.0.1");
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});

function ownServer(scheme: string, command: string, args: (port: number) => string[], cleanup?: () => void): Promise<OwnServer> {
	return freePort().then(async port => {
		let child: ChildProcess | null = null;
		const server: OwnServer = {
			url: `${scheme}://127.0.0.1:${port}`,
			port,
			async start() {
				child = spawn(command, args(port), { stdio: "ignore" });
				await waitFor(() => portOpen(port), { timeout: 10_000, interval: 50, what: `${command} on ${port}` });
			},
			async stop() {
				const running = child;
				child = null;
				if (running && running.exitCode === null) {
					const exited = new Promise(r => running.once("exit", r));
					running.kill("SIGKILL");
					await exited;
				}
				await waitFor(async () => !(await portOpen(port)), { timeout: 10_000, interval: 50, what: `${command} on ${port} to stop` });
			},
		};
		await server.start();
		process.once("exit", () => {
			child?.kill("SIGKILL");
			cleanup?.();
		});
		return server;
	});
}

/** A nats-server of the test's own (no JetStream: only the outbound role uses it); `args` add e.g. credentials or TLS. */
export function startOwnNats(args: string[] = []): Promise<OwnServer> {
	return ownServer("nats", "nats-server", port => ["-a", "127.0.0.1", "-p", String(port), ...args]);
}

/** A redis-server of the test's own, keeping nothing on disk. */
export function startOwnRedis(): Promise<OwnServer> {
	const dir = mkdtempSync(join(tmpdir(), "venta-redis-"));
	return ownServer(
		"redis",
		"redis-server",
		port => ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir],
		() => rmSync(dir, { recursive: true, force: true })
	);
}
