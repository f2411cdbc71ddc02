import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { Webhook } from "svix";
import { freePort } from "./ports.ts";

/** One request the receiver got, the status it answered, and whether svix verified its signature. */
export type Received = { id: string; headers: IncomingHttpHeaders; body: string; status: number; verified: boolean };

export type Receiver = {
	url: string;
	received: Received[];
	/** The status the next requests get (default 200). */
	answer(status: number): void;
	/** Ids answered with a 2xx, once each as many times as they were. */
	delivered(): string[];
	close(): Promise<void>;
};

/**
 * A real HTTP receiver of outbound webhooks, as an operator's backend would be: it verifies each
 * request with the official `svix` library and answers the status it is told to.
 */
export async function startReceiver(secret: string | (() => string)): Promise<Receiver> {
	let status = 200;
	const received: Received[] = [];
	const server: Server = createServer((req, res) => {
		let body = "";
		req.setEncoding("utf8");
		req.on("data", chunk => (body += chunk));
		req.on("end", () => {
			let verified = true;
			try {
				new Webhook(typeof secret === "string" ? secret : secret()).verify(body, req.headers as Record<string, string>);
			} catch {
				verified = false;
			}
			received.push({ id: String(req.headers["webhook-id"]), headers: req.headers, body, status, verified });
			res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "receiver down for maintenance".repeat(50));
		});
	});
	const port = await freePort();
	await new Promise<void>(resolve => server.listen(port, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${port}/hooks`,
		received,
		answer: next => (status = next),
		delivered: () => received.filter(r => r.status < 300).map(r => r.id),
		close: () => new Promise(resolve => server.close(() => resolve())),
	};
}
