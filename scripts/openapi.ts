/**
 * `npm run openapi`: writes docs/openapi.json, the document the REST gateway of this tree serves at
 * `/openapi.json`, fetched from an embedded engine (free ports, data in memory, nothing kept).
 * test/service/api/openapi.test.ts fails when the committed file differs from what an engine serves.
 */
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/index.ts";
import { createEngine } from "../runtime/engine.ts";

export const OPENAPI_FILE = fileURLToPath(new URL("../docs/openapi.json", import.meta.url));

/** The committed file's text of a document. */
export const openapiFileText = (document: unknown): string => `${JSON.stringify(document, null, 2)}\n`;

/** The document an engine serves, once it is ready (its routes, and so the document, are built). */
export async function fetchOpenApi(baseUrl: string, timeoutMs = 20_000): Promise<unknown> {
	const deadline = Date.now() + timeoutMs;
	while ((await fetch(`${baseUrl}/health/ready`).catch(() => undefined))?.status !== 200) {
		if (Date.now() > deadline) throw new Error(`${baseUrl} was not ready within ${timeoutMs} ms`);
		await new Promise(r => setTimeout(r, 100));
	}
	const res = await fetch(`${baseUrl}/openapi.json`);
	if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
	return res.json();
}

/** A port nobody listens on now (the test tier's freePort is not for production code). */
function unusedPort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const probe = createServer().once("error", reject);
		probe.listen(0, "127.0.0.1", () => {
			const { port } = probe.address() as AddressInfo;
			probe.close(() => resolve(port));
		});
	});
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const config = loadConfig({
		NODE_ENV: "development",
		NAMESPACE: `openapi-${process.pid}`,
		PORT: String(await unusedPort()),
		LIVE_PORT: String(await unusedPort()),
		DATA_DIR: ":memory:",
		LOG_LEVEL: "warn",
		AUTH_DEV_SECRET: randomBytes(24).toString("hex"),
	});
	const broker = await createEngine(config);
	await broker.start();
	try {
		await writeFile(OPENAPI_FILE, openapiFileText(await fetchOpenApi(`http://127.0.0.1:${config.port}`)));
		process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
	} finally {
		await broker.stop();
	}
}
