import { createServer, type Server } from "node:http";

/** A span as Zipkin's v2 JSON API receives it (the fields the tests read). */
export type ZipkinSpan = {
	traceId: string;
	id: string;
	parentId: string | null;
	name: string;
	timestamp: number;
	/** Microseconds. */
	duration: number;
	localEndpoint: { serviceName: string | null };
	tags: Record<string, string>;
};

/**
 * A real HTTP receiver shaped like Zipkin's collector: `POST /api/v2/spans` with a JSON array of
 * spans, answered 202. What the engine's exporter sends is kept in `spans`.
 */
export class ZipkinReceiver {
	readonly spans: ZipkinSpan[] = [];
	readonly #server: Server;
	/** Requests that were not a JSON array POSTed to the spans path. */
	rejected = 0;

	private constructor(server: Server) {
		this.#server = server;
	}

	static async start(port: number): Promise<ZipkinReceiver> {
		const receiver = new ZipkinReceiver(
			createServer((req, res) => {
				let body = "";
				req.on("data", d => (body += d));
				req.on("end", () => {
					try {
						const spans = JSON.parse(body) as unknown;
						if (req.method !== "POST" || req.url !== "/api/v2/spans" || !Array.isArray(spans)) throw new Error("not spans");
						receiver.spans.push(...(spans as ZipkinSpan[]));
						res.writeHead(202).end();
					} catch {
						receiver.rejected++;
						res.writeHead(400).end();
					}
				});
			})
		);
		await new Promise<void>(resolve => receiver.#server.listen(port, "127.0.0.1", resolve));
		return receiver;
	}

	get url(): string {
		const { port } = this.#server.address() as { port: number };
		return `http://127.0.0.1:${port}`;
	}

	trace(traceId: string): ZipkinSpan[] {
		return this.spans.filter(s => s.traceId === traceId);
	}

	close(): Promise<void> {
		return new Promise(resolve => this.#server.close(() => resolve()));
	}
}

/** A trace as an indented text tree: name, service, node and duration of each span, children by start time. */
export function traceTree(spans: ZipkinSpan[]): string {
	const ids = new Set(spans.map(s => s.id));
	const children = (parent: string | null) =>
		spans
			.filter(s => (parent === null ? !s.parentId || !ids.has(s.parentId) : s.parentId === parent))
			.sort((a, b) => a.timestamp - b.timestamp);
	const lines: string[] = [];
	const walk = (span: ZipkinSpan, depth: number) => {
		const ms = (span.duration / 1000).toFixed(2);
		lines.push(`${"  ".repeat(depth)}${span.name}  [${span.localEndpoint.serviceName ?? "-"} @ ${span.tags.nodeID}]  ${ms} ms`);
		for (const child of children(span.id)) walk(child, depth + 1);
	};
	for (const root of children(null)) walk(root, 0);
	return lines.join("\n");
}
