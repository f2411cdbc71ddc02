import { type Context, Errors, type ServiceBroker, type Span } from "moleculer";

/** The node a failed call went to, where Moleculer's error says. */
function failedNode(err: unknown): string | undefined {
	const e = err as { nodeID?: unknown; data?: { nodeID?: unknown } };
	const node = e.nodeID ?? e.data?.nodeID;
	return typeof node === "string" ? node : undefined;
}

/** A call that did not reach a working service (timeout, gone node), as opposed to one the service refused. */
const unreached = (err: unknown) =>
	err instanceof Errors.RequestTimeoutError ||
	(err instanceof Errors.MoleculerRetryableError && !(err instanceof Errors.MoleculerClientError));

/**
 * A call with a short timeout that, when the node it went to does not answer, tries once more on
 * another node of the same action right away (Moleculer's retries may pick the dead node again and
 * the registry keeps it until the heartbeat times out). For hot paths that must not wait 10 s.
 * Called on a Context, the calls are its children (request id, caller); on the broker, the
 * children of `parentSpan` when one is given (tracing on).
 */
export async function callWithFailover<T>(
	caller: Context | ServiceBroker,
	action: string,
	params: object,
	timeout: number,
	parentSpan?: Span
): Promise<T> {
	const broker = "registry" in caller ? caller : caller.broker;
	try {
		return await caller.call<T, object>(action, params, { timeout, retries: 0, parentSpan });
	} catch (err) {
		if (!unreached(err)) throw err;
		const dead = failedNode(err);
		const others = broker.registry.getActionEndpoints(action)?.endpoints.filter(e => e.isAvailable && e.id !== dead) ?? [];
		const next = others.find(e => e.local) ?? others[Math.floor(Math.random() * others.length)];
		if (!next || next.id === dead) throw err;
		return caller.call<T, object>(action, params, { timeout, retries: 0, nodeID: next.id, parentSpan });
	}
}
