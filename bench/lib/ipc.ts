import type { Proc } from "./proc.ts";

/** One request from the orchestrator to a load-generator process, and its answer. */
type Request = { id: number; type: string; payload: unknown };
type Reply = { id: number; ok: true; data: unknown } | { id: number; ok: false; message: string };

/** Load-generator side: answers requests by type until the parent disconnects. */
export function serveRequests(handlers: Record<string, (payload: any) => unknown>): void {
	process.on("message", async (msg: Request) => {
		let reply: Reply;
		try {
			const handler = handlers[msg.type];
			if (!handler) throw new Error(`unknown request ${msg.type}`);
			reply = { id: msg.id, ok: true, data: await handler(msg.payload) };
		} catch (err) {
			reply = { id: msg.id, ok: false, message: (err as Error).message };
		}
		process.send!(reply);
	});
	process.on("disconnect", () => process.exit(0));
}

/** CPU % of this process since the previous call (100 = one core). */
export function cpuMeter(): () => { cpuPercent: number; wallMs: number } {
	let last = process.cpuUsage();
	let lastAt = performance.now();
	return () => {
		const now = performance.now();
		const used = process.cpuUsage(last);
		last = process.cpuUsage();
		const wallMs = now - lastAt;
		lastAt = now;
		return { cpuPercent: ((used.user + used.system) / 1000 / wallMs) * 100, wallMs };
	};
}

/** Orchestrator side: a forked load generator answering typed requests. */
export class ClientProc {
	readonly proc: Proc;
	#seq = 0;
	readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

	constructor(proc: Proc) {
		this.proc = proc;
		proc.child.on("message", (reply: Reply) => {
			const p = this.#pending.get(reply.id);
			if (!p) return;
			this.#pending.delete(reply.id);
			if (reply.ok) p.resolve(reply.data);
			else p.reject(new Error(`${proc.name}: ${reply.message}`));
		});
		void proc.exited.then(code => {
			for (const p of this.#pending.values()) p.reject(new Error(`${proc.name} exited (${code}): ${proc.tail()}`));
			this.#pending.clear();
		});
	}

	call<T>(type: string, payload: unknown = {}, timeoutMs = 60_000): Promise<T> {
		const id = ++this.#seq;
		return new Promise<T>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`${this.proc.name}: no answer to ${type} within ${timeoutMs} ms`));
			}, timeoutMs);
			this.#pending.set(id, {
				resolve: v => {
					clearTimeout(timer);
					resolve(v as T);
				},
				reject: e => {
					clearTimeout(timer);
					reject(e);
				},
			});
			this.proc.child.send({ id, type, payload } satisfies Request);
		});
	}

	async close(): Promise<void> {
		if (this.proc.child.connected) this.proc.child.disconnect();
		await this.proc.stop(5_000);
	}
}
