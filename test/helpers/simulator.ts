import { spawnNode, type NodeProcess } from "./process.ts";
import { waitFor, TEST_DEV_SECRET, type TestEngine } from "./engine.ts";
import { mintDevToken } from "../../lib/auth.ts";

export type Simulator = NodeProcess & {
	/** Ids of the simulated vendors, in index order (read back over REST as their owners). */
	vendorIds(): Promise<string[]>;
};

/** Runs `scripts/simulate/simulate.ts` against a test engine, with the engine's dev secret in its environment. */
export async function startSimulator(
	engine: Pick<TestEngine, "baseUrl" | "liveUrl">,
	opts: { vendors: number; bbox: readonly number[]; prefix: string; args?: string[] }
): Promise<Simulator> {
	const proc = spawnNode("scripts/simulate/simulate.ts", { AUTH_DEV_SECRET: TEST_DEV_SECRET, DATA_DIR: ":memory:", NODE_ENV: "test" }, [
		"--vendors",
		String(opts.vendors),
		"--bbox",
		opts.bbox.join(","),
		"--prefix",
		opts.prefix,
		"--url",
		engine.baseUrl,
		"--live-url",
		engine.liveUrl,
		...(opts.args ?? []),
	]);
	await waitFor(() => proc.output().includes("onboarded and active") || proc.child.exitCode !== null, {
		timeout: 30_000,
		what: "the simulator to onboard its vendors",
	});
	if (proc.child.exitCode !== null) throw new Error(`simulator exited early:\n${proc.output()}`);
	return {
		...proc,
		async vendorIds() {
			const ids: string[] = [];
			for (let i = 0; i < opts.vendors; i++) {
				const token = await mintDevToken(TEST_DEV_SECRET, `user_${opts.prefix}_${i}`);
				const res = await fetch(`${engine.baseUrl}/api/vendors?owner=me`, { headers: { Authorization: `Bearer ${token}` } });
				const page = (await res.json()) as { rows: Array<{ id: string }> };
				ids.push(page.rows[0]!.id);
			}
			return ids;
		},
	};
}

/** The value of a counter summed over all label sets in a Prometheus text. */
export function metricTotal(text: string, name: string): number {
	let total = 0;
	for (const line of text.split("\n")) {
		if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
	}
	return total;
}
