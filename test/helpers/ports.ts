import { createServer } from "node:net";

function probePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}

/** Ports already handed out in this process. */
const handedOut = new Set<number>();

/**
 * A TCP port nobody listens on, never the same twice in one process (tests and the bench alike):
 * two servers started at once must not be handed the same port.
 */
export async function freePort(): Promise<number> {
	for (;;) {
		const port = await probePort();
		if (handedOut.has(port)) continue;
		handedOut.add(port);
		return port;
	}
}
