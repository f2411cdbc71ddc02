/**
 * The layers of the engine, checked by `npm run lint` (dependency-cruiser):
 *   packages/client (the SDK, with the protocol) → lib → config → middlewares, mixins, runtime (infrastructure)
 *   → services → gateways → runtime/engine.ts
 * A lower layer never imports a higher one; services and gateways see each other only through
 * a service's `contract.ts`; only runtime/engine.ts imports the services and gateways themselves.
 */
const PRODUCTION = "^(config|lib|middlewares|mixins|runtime|services|gateways|scripts|web/src|packages/client/src)/|^[^/]+\\.ts$";

module.exports = {
	forbidden: [
		{ name: "no-circular", severity: "error", comment: "No import cycles.", from: {}, to: { circular: true } },
		{
			name: "sdk-stands-alone",
			severity: "error",
			comment: "packages/client is published: it imports nothing of the engine (its examples: the SDK by name, and npm packages).",
			from: { path: "^packages/client/" },
			to: { pathNot: ["^packages/client/", "node_modules", "^@venta/client$"] },
		},
		{
			name: "engine-reads-only-the-protocol-of-the-sdk",
			severity: "error",
			comment: "The engine takes the frames and codes from the SDK (one definition), through gateways/live/protocol.",
			from: { path: "^(lib|config|middlewares|mixins|runtime|services|gateways)/" },
			to: { path: "^packages/", pathNot: "^packages/client/src/protocol/(frames|codes)\\.ts$" },
		},
		{
			name: "lib-is-pure",
			severity: "error",
			comment: "lib/ holds helpers for every layer and imports nothing outside lib/ (npm packages aside).",
			from: { path: "^lib/" },
			to: { pathNot: ["^lib/", "node_modules"], dependencyTypesNot: ["core"] },
		},
		{
			name: "config-below-everything-but-lib",
			severity: "error",
			from: { path: "^config/" },
			to: { pathNot: ["^config/", "^lib/", "node_modules"], dependencyTypesNot: ["core"] },
		},
		{
			name: "infrastructure-below-services",
			severity: "error",
			comment: "middlewares, mixins and runtime (but engine.ts) build on lib and config only.",
			from: { path: "^(middlewares|mixins)/|^runtime/(?!engine\\.ts$)" },
			to: { pathNot: ["^(lib|config|middlewares|mixins)/", "^runtime/(?!engine\\.ts$)", "node_modules"], dependencyTypesNot: ["core"] },
		},
		{
			name: "contracts-are-dependency-free",
			severity: "error",
			comment: "A service's contract.ts: types, limits and tiny pure helpers; other contracts and lib types at most.",
			from: { path: "^services/[^/]+/contract\\.ts$" },
			to: { pathNot: ["^lib/", "^services/[^/]+/contract\\.ts$"] },
		},
		{
			name: "services-see-each-other-through-contracts",
			severity: "error",
			from: { path: "^services/([^/]+)/" },
			to: { path: "^services/", pathNot: ["^services/$1/", "^services/[^/]+/contract\\.ts$"] },
		},
		{
			name: "services-below-gateways",
			severity: "error",
			from: { path: "^services/" },
			to: { path: "^(gateways|scripts|web|test|bench)/|^runtime/engine\\.ts$|^moleculer\\.config\\.ts$|^server\\.ts$" },
		},
		{
			name: "gateways-see-services-through-contracts",
			severity: "error",
			from: { path: "^gateways/" },
			to: { path: "^services/", pathNot: "^services/[^/]+/contract\\.ts$" },
		},
		{
			name: "gateways-apart",
			severity: "error",
			comment: "The REST and the live gateway share nothing but lower layers.",
			from: { path: "^gateways/(api|live)/" },
			to: { path: "^gateways/", pathNot: "^gateways/$1/" },
		},
		{
			name: "gateways-below-engine",
			severity: "error",
			from: { path: "^gateways/" },
			to: { path: "^(scripts|web|test|bench)/|^runtime/engine\\.ts$|^moleculer\\.config\\.ts$|^server\\.ts$" },
		},
		{
			name: "only-the-engine-loads-services",
			severity: "error",
			comment: "Service and gateway modules are assembled by runtime/engine.ts alone (tests may start their own fixtures).",
			from: { path: PRODUCTION, pathNot: "^runtime/engine\\.ts$" },
			to: { path: "\\.service\\.ts$" },
		},
		{
			name: "map-page-imports-types-and-pure-helpers",
			severity: "error",
			comment: "web/src bundles into the browser: the SDK, contracts, lib, the motion model.",
			from: { path: "^web/src/" },
			to: {
				pathNot: [
					"^web/src/",
					"^lib/",
					"^packages/client/src/",
					"^@venta/client$",
					"^services/[^/]+/contract\\.ts$",
					"^scripts/simulate/motion\\.ts$",
					"node_modules",
				],
			},
		},
		{
			name: "production-never-imports-tests-or-bench",
			severity: "error",
			from: { path: PRODUCTION },
			to: { path: "^(test|bench)/" },
		},
	],
	options: {
		doNotFollow: { path: "node_modules" },
		exclude: { path: "^(node_modules|web/dist|packages/client/dist)/" },
		parser: "swc",
		tsConfig: { fileName: "tsconfig.json" },
		enhancedResolveOptions: {
			extensions: [".ts", ".js", ".json"],
			conditionNames: ["@venta/source", "import", "require", "node", "default"],
		},
	},
};
