import type { Context, Middleware, ServiceBroker } from "moleculer";
import { unavailable } from "../lib/errors.ts";

type Next = (ctx: Context) => Promise<unknown>;

/** The NATS client's status stream (nats 2.x): `disconnect` when the connection drops, `reconnect` when it is back. */
type StatusSource = { status?: () => AsyncIterable<{ type: string }> };

/**
 * Calls to other nodes fail at once with 503 while this node's NATS connection is down. Without
 * this they wait, buffered by the NATS client, until the other nodes time out of the registry
 * (the heartbeat timeout) or the call times out. One middleware per broker: it holds that
 * broker's connection state.
 */
export function MeshMiddleware(): Middleware {
	let meshDown = false;
	const follow = async (client: Required<StatusSource>) => {
		for await (const status of client.status()) {
			if (status.type === "disconnect") meshDown = true;
			else if (status.type === "reconnect") meshDown = false;
		}
	};
	return {
		name: "Mesh",
		async started(broker: ServiceBroker) {
			const client = (broker.transit?.tx as unknown as { client?: StatusSource } | undefined)?.client;
			if (client?.status) follow(client as Required<StatusSource>).catch(() => undefined);
		},
		remoteAction(next: Next): Next {
			return ctx =>
				meshDown
					? Promise.reject(
							unavailable(`${ctx.action?.name ?? "A service"} is on another node, and the cluster mesh (NATS) is unreachable; retry`)
						)
					: next(ctx);
		},
	};
}
