/**
 * Bundles the map page (web/src, Leaflet, h3-js, the @venta/client SDK) into web/dist, which the REST
 * gateway serves at `/`. Runs as `npm run build:web` and from `prepare` on npm install / npm ci.
 */
import { copyFile, mkdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const WEB_DIST = `${ROOT}web/dist`;

export async function buildWeb(outdir = WEB_DIST): Promise<void> {
	const { build } = await import("esbuild");
	await rm(outdir, { recursive: true, force: true });
	await mkdir(outdir, { recursive: true });
	await build({
		entryPoints: { app: `${ROOT}web/src/main.ts` },
		outdir,
		bundle: true,
		// The SDK from its sources (packages/client/src): the page does not wait for its build.
		conditions: ["@venta/source"],
		format: "esm",
		target: ["es2022"],
		minify: true,
		sourcemap: true,
		legalComments: "linked",
		loader: { ".png": "file", ".svg": "file" },
		logLevel: "warning",
	});
	await copyFile(`${ROOT}web/index.html`, `${outdir}/index.html`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	try {
		await buildWeb();
		process.stdout.write(`map page built into ${WEB_DIST}\n`);
	} catch (err) {
		const missing = (err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND";
		// A production install (dev dependencies omitted) keeps a page built earlier.
		if (missing && process.env.npm_lifecycle_event === "prepare") {
			process.stdout.write(
				`map page not rebuilt: esbuild is not installed (production install); ${existsSync(WEB_DIST) ? "keeping the existing web/dist" : "the page at / is unavailable until `npm run build:web` runs with dev dependencies"}\n`
			);
		} else {
			process.stderr.write(`build:web failed: ${(err as Error).message}\n`);
			process.exit(1);
		}
	}
}
