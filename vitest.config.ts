import { defineConfig } from "vitest/config";

/**
 * Three tiers (`npm test` runs all of them):
 * - unit: no processes, no network; mirrors the source tree.
 * - service: one in-process engine (real broker, HTTP and uWS on loopback).
 * - cluster: NATS, Redis, several processes, faults, a real browser; its chaos part (fuzz, faults)
 *   runs last and alone.
 */
export default defineConfig({
	test: {
		// Brokers, sockets and child processes: real parts take real time on a 2-core machine.
		testTimeout: 30_000,
		hookTimeout: 60_000,
		pool: "forks",
		maxWorkers: 2,
		reporters: ["default"],
		projects: [
			{ extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 10_000 } },
			{ extends: true, test: { name: "service", include: ["test/service/**/*.test.ts"] } },
			{ extends: true, test: { name: "cluster", include: ["test/cluster/**/*.test.ts"], exclude: ["test/cluster/chaos/**"] } },
			// Fuzz and fault runs measure gaps under load: alone, one file at a time, after the rest.
			{
				extends: true,
				test: { name: "chaos", include: ["test/cluster/chaos/**/*.test.ts"], maxWorkers: 1, sequence: { groupOrder: 1 } },
			},
		],
	},
});
