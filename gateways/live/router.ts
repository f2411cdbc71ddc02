import { connect, type ConnectionOptions, type NatsConnection, type Subscription } from "nats";

/**
 * Cross-node interest routing over NATS: one subject per coarse (routing) H3 cell,
 * `<namespace>.live.<cell>`, subscribed only while a local socket watches a cell under it.
 *
 * Why the `nats` client and not Moleculer's transporter: Moleculer events are declared per
 * service and delivered to every node that declares them, so a node cannot add and drop
 * interest in one area at runtime; a plain NATS connection can (subscribe/unsubscribe per
 * subject), and the NATS server then forwards each update only to the nodes that asked.
 * `noEcho` keeps a node's own updates from coming back (it delivers those locally).
 */
export class CellRouter {
	readonly #nc: NatsConnection;
	readonly #prefix: string;
	readonly #subs = new Map<string, Subscription>();
	readonly #onUpdate: (cell: string, vendorId: string, frame: string) => void;
	readonly #encoder = new TextEncoder();
	readonly #decoder = new TextDecoder();

	private constructor(nc: NatsConnection, namespace: string, onUpdate: (cell: string, vendorId: string, frame: string) => void) {
		this.#nc = nc;
		this.#prefix = `${namespace}.live.`;
		this.#onUpdate = onUpdate;
	}

	/** `options`: the node's NATS servers, credentials and TLS (runtime/nats.ts). */
	static async connect(
		options: ConnectionOptions,
		namespace: string,
		name: string,
		onUpdate: (cell: string, vendorId: string, frame: string) => void
	): Promise<CellRouter> {
		// Back within a quarter second of NATS returning: cross-node delivery resumes with it.
		const nc = await connect({ ...options, name, noEcho: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
		return new CellRouter(nc, namespace, onUpdate);
	}

	/** Starts receiving updates for a routing cell. */
	subscribe(routingCell: string): void {
		if (this.#subs.has(routingCell)) return;
		const sub = this.#nc.subscribe(this.#prefix + routingCell, {
			callback: (err, msg) => {
				if (err) return;
				const text = this.#decoder.decode(msg.data);
				const a = text.indexOf("\n");
				const b = text.indexOf("\n", a + 1);
				if (a < 0 || b < 0) return;
				this.#onUpdate(text.slice(0, a), text.slice(a + 1, b), text.slice(b + 1));
			},
		});
		this.#subs.set(routingCell, sub);
	}

	unsubscribe(routingCell: string): void {
		this.#subs.get(routingCell)?.unsubscribe();
		this.#subs.delete(routingCell);
	}

	/** Sends an already-serialised frame for `cell` to the nodes interested in its routing cell. */
	publish(routingCell: string, cell: string, vendorId: string, frame: string): void {
		this.#nc.publish(this.#prefix + routingCell, this.#encoder.encode(`${cell}\n${vendorId}\n${frame}`));
	}

	/** Whether NATS answers now (a PING and its PONG), for readiness. */
	async check(): Promise<void> {
		if (this.#nc.isClosed()) throw new Error("routing connection closed");
		await this.#nc.flush();
	}

	get subjects(): string[] {
		return [...this.#subs.keys()];
	}

	async close(): Promise<void> {
		await this.#nc.drain().catch(() => this.#nc.close());
	}
}
