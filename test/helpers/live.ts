import WebSocket from "ws";
import { waitFor } from "./engine.ts";

export type Frame = { op: string; [key: string]: unknown };

/** A real WebSocket client that records every frame and its close code. */
export class LiveClient {
	readonly ws: WebSocket;
	readonly frames: Frame[] = [];
	closeCode: number | null = null;
	closeReason = "";
	#seen = 0;

	private constructor(ws: WebSocket) {
		this.ws = ws;
		ws.on("message", data => this.frames.push(JSON.parse(data.toString()) as Frame));
		ws.on("close", (code, reason) => {
			this.closeCode = code;
			this.closeReason = reason.toString();
		});
		ws.on("error", () => undefined);
	}

	/** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
	static open(url: string, headers: Record<string, string> = {}): Promise<LiveClient> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url, { headers });
			const client = new LiveClient(ws);
			ws.once("open", () => resolve(client));
			ws.once("unexpected-response", (_req, res) => {
				let body = "";
				res.on("data", d => (body += d));
				res.on("end", () =>
					reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`), { status: res.statusCode, body }))
				);
			});
			ws.once("error", reject);
		});
	}

	/**
	 * Opens a socket and waits until it answers a ping, reconnecting when the server dropped it first.
	 * The uWS build here may close a socket upgraded after an await (every `?token=` upgrade: the token
	 * is checked first) right after `open`: 1006, no frame (uNetworking/uWebSockets#1928; the fix, PR
	 * #1929, is in uWebSockets v20.79.0, newer than this build). A client reconnects, as the SDK does.
	 */
	static async openAnswering(url: string, headers: Record<string, string> = {}, attempts = 5): Promise<LiveClient> {
		for (let attempt = 1; ; attempt++) {
			const client = await LiveClient.open(url, headers);
			if (await client.#answersPing()) return client;
			if (attempt === attempts) throw new Error(`socket closed right after the upgrade ${attempts} times (${client.closeCode})`);
		}
	}

	/** Whether a ping is answered before the socket closes. */
	#answersPing(): Promise<boolean> {
		if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
		const closed = new Promise<boolean>(resolve => this.ws.once("close", () => resolve(false)));
		this.send({ op: "ping" });
		return Promise.race([this.next(f => f.op === "pong").then(() => true), closed]).catch(() => false);
	}

	/** Drops the frames seen so far (long-running tests keep memory flat). */
	forget(): void {
		this.frames.splice(0, this.#seen);
		this.#seen = 0;
	}

	send(frame: unknown): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	/** The next frame (after those already taken) matching `match`. */
	next(match: (f: Frame) => boolean = () => true, timeout = 5_000): Promise<Frame> {
		const take = (): Frame | undefined => {
			for (let i = this.#seen; i < this.frames.length; i++) {
				if (match(this.frames[i]!)) {
					this.#seen = i + 1;
					return this.frames[i];
				}
			}
			return undefined;
		};
		const found = take();
		if (found) return Promise.resolve(found);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.ws.off("message", onMessage);
				reject(new Error(`Timed out waiting for a matching frame (last: ${JSON.stringify(this.frames.at(-1))?.slice(0, 200)})`));
			}, timeout);
			const onMessage = () => {
				const frame = take();
				if (!frame) return;
				clearTimeout(timer);
				this.ws.off("message", onMessage);
				resolve(frame);
			};
			this.ws.on("message", onMessage);
		});
	}

	nextOp(op: string, timeout?: number): Promise<Frame> {
		return this.next(f => f.op === op, timeout);
	}

	/** Watch and wait for the snapshot (an error frame rejects). */
	async watch(spec: Record<string, unknown>): Promise<Frame> {
		this.send({ op: "watch", ...spec });
		const answer = await this.next(f => f.op === "snapshot" || f.op === "error");
		if (answer.op === "error") throw Object.assign(new Error(`watch refused: ${answer.code} ${answer.message}`), { frame: answer });
		return answer;
	}

	closed(timeout = 10_000): Promise<number> {
		return waitFor(() => this.closeCode, { timeout, what: "socket close" });
	}

	close(): void {
		if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
	}
}

/** Onboards a vendor through REST and activates it; returns its id. */
export async function activeVendor(baseUrl: string, token: string, name = "Taco Truck"): Promise<string> {
	const headers = { "Content-Type": "application/json", Authorization: `Bearer ${token}` };
	const created = await fetch(`${baseUrl}/api/vendors`, { method: "POST", headers, body: JSON.stringify({ name, categories: ["food"] }) });
	if (created.status !== 201) throw new Error(`onboarding failed: ${created.status} ${await created.text()}`);
	const { id } = (await created.json()) as { id: string };
	const active = await fetch(`${baseUrl}/api/vendors/${id}/status`, {
		method: "POST",
		headers,
		body: JSON.stringify({ status: "active" }),
	});
	if (active.status !== 200) throw new Error(`activation failed: ${active.status} ${await active.text()}`);
	return id;
}

/** The REST gateway builds its routes shortly after start; wait until they answer. */
export function waitForRoutes(baseUrl: string): Promise<unknown> {
	return waitFor(async () => (await fetch(`${baseUrl}/api/discovery/heatmap?bbox=0,0,1,1`)).status === 200, { what: "REST routes" });
}

/** A metric value from Prometheus text (first series matching the name and optional label). */
export function metricValue(text: string, name: string, label?: string): number | undefined {
	for (const line of text.split("\n")) {
		if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
		if (label && !line.includes(label)) continue;
		return Number(line.slice(line.lastIndexOf(" ") + 1));
	}
	return undefined;
}
