import { createReadStream, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServiceBroker } from "moleculer";
import { notFound, unavailable } from "../../../lib/errors.ts";
import { buildOpenApi, type OpenApiDocument } from "./document.ts";
import { DOCS_ASSETS } from "./gateway-operations.ts";
import type { ActionInfo, RouteInfo } from "./operations.ts";

/**
 * `GET /openapi.json` (the document of what this gateway routes, built when its alias table is)
 * and `GET /docs`, Swagger UI from swagger-ui-dist, served from node_modules: no CDN. Every URL
 * of the page is relative, so it works behind a path prefix like the map page.
 */

/** What moleculer-web keeps of an alias and its route (the parts the document needs). */
export type ServedAlias = {
	method: string;
	fullPath: string;
	action?: string | null;
	route: { opts: { rateLimit?: unknown; authentication?: unknown; mergeParams?: boolean } };
};

/** The gateway service, as the handlers below see it: the document as sent, once built. */
export type DocsHost = { openapiJson: string | undefined };

const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { version: string })
	.version;

const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

const routeInfo = (alias: ServedAlias): RouteInfo => ({
	method: alias.method,
	fullPath: alias.fullPath,
	action: alias.action ?? null,
	rateLimited: Boolean(alias.route.opts.rateLimit),
	authenticated: Boolean(alias.route.opts.authentication),
	paramsFromRequest: alias.route.opts.mergeParams !== false,
});

/** The document of `aliases`, with the actions as the registry knows them (remote ones too). */
export function servedOpenApi(
	aliases: readonly ServedAlias[],
	broker: ServiceBroker
): { document: OpenApiDocument; undocumented: string[] } {
	const actions = new Map<string, ActionInfo>();
	for (const item of broker.registry.getActionList({ skipInternal: true }) as { name: string; action?: ActionInfo }[])
		if (item.action) actions.set(item.name, item.action);
	return buildOpenApi(aliases.map(routeInfo), actions, VERSION);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Venta REST API</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

/** The page's own script: a file, so the CSP needs no inline script. `openapi.json` is relative to the page. */
const INIT_JS = `window.ui = SwaggerUIBundle({ url: new URL("openapi.json", document.baseURI).href, dom_id: "#swagger-ui", deepLinking: true });\n`;

/** Everything from this origin (Swagger UI's icons are data: URLs); "Try it out" calls this origin only. */
const PAGE_CSP =
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

const CONTENT_TYPES: Record<string, string> = {
	".css": "text/css; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".png": "image/png",
};

/** The aliases of `/openapi.json` and `/docs`, for the gateway's root route. */
export const OPENAPI_ALIASES = {
	"GET openapi.json"(this: DocsHost, _req: IncomingMessage, res: ServerResponse) {
		if (this.openapiJson === undefined) throw unavailable("The REST routes are not built yet; retry");
		res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-cache" });
		res.end(this.openapiJson);
	},
	"GET docs"(_req: IncomingMessage, res: ServerResponse) {
		res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache" });
		res.end(PAGE);
	},
	"GET docs/:asset"(req: IncomingMessage & { $params?: { asset?: string } }, res: ServerResponse) {
		const asset = req.$params?.asset;
		if (!asset || !(DOCS_ASSETS as readonly string[]).includes(asset)) throw notFound("No such file of the docs page");
		const type = CONTENT_TYPES[asset.slice(asset.lastIndexOf("."))] ?? "application/octet-stream";
		res.writeHead(200, { "Content-Type": type, "Cache-Control": "public, max-age=3600" });
		if (asset === "init.js") res.end(INIT_JS);
		else createReadStream(join(SWAGGER_UI_DIR, asset)).pipe(res);
	},
};
