import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../../helpers/process.ts";

const PACKAGE = join(ROOT, "packages/client");
/** openapi-typescript is the package's dev dependency (with its TypeScript 5 peer), installed under packages/client. */
type Generator = {
	default(schema: URL): Promise<unknown>;
	astToString(ast: unknown): string;
	COMMENT_HEADER: string;
};

describe("the SDK's REST types", () => {
	it("are what openapi-typescript generates from docs/openapi.json now (else: npm run generate -w @venta/client)", async () => {
		const generator = (await import(pathToFileURL(join(PACKAGE, "node_modules/openapi-typescript/dist/index.mjs")).href)) as Generator;
		const ast = await generator.default(pathToFileURL(join(ROOT, "docs/openapi.json")));
		const fresh = `${generator.COMMENT_HEADER}${generator.astToString(ast)}`;
		expect(readFileSync(join(PACKAGE, "src/rest/openapi.ts"), "utf8")).toBe(fresh);
	});
});
