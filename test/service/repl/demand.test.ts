import { cellToParent, gridDisk, latLngToCell } from "h3-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorCaller } from "../../../lib/identity.ts";
import { Output, runCommand } from "../../../scripts/repl/cli.ts";
import { REPL_COMMANDS } from "../../../scripts/repl/commands.ts";
import { startTestEngine, waitFor, type TestEngine } from "../../helpers/engine.ts";
import { LiveClient } from "../../helpers/live.ts";

const RES = 8;
const CELL = latLngToCell(52.52, 13.405, RES);
const RING = gridDisk(CELL, 1);
const OTHER = RING.find(c => c !== CELL)!;
const BOX = "13.3,52.45,13.5,52.6";
const spec = REPL_COMMANDS.find(c => c.command === "demand")!;

/** The table rows the command printed (Output without a terminal prints tab-separated lines), as cell → count. */
const rowsOf = (text: string): Record<string, number> =>
	Object.fromEntries(
		text
			.split("\n")
			.slice(1)
			.map(l => l.split("\t"))
			.filter(cols => cols.length === 2)
			.map(([cell, n]) => [cell, Number(n)])
	);

describe("REPL demand: the busiest cells by watchers", () => {
	let engine: TestEngine;
	const sockets: LiveClient[] = [];
	async function run(options: Record<string, string | boolean> = {}) {
		const lines: string[] = [];
		const ok = await runCommand(
			spec,
			engine.broker,
			{ args: [], options, operator: operatorCaller("tester") },
			new Output(null, t => lines.push(t))
		);
		return { ok, text: lines.join("\n") };
	}
	async function watcher(cells: string[]) {
		const client = await LiveClient.open(engine.liveUrl);
		sockets.push(client);
		await client.watch({ cells });
	}

	beforeAll(async () => {
		// A threshold above every count here: operators see raw counts all the same.
		engine = await startTestEngine({ H3_RES: String(RES), DEMAND_MIN_COUNT: "50" });
	});
	afterAll(async () => {
		for (const c of sockets) c.close();
		await engine?.stop();
	});

	it("says so when nobody watches", async () => {
		expect(await run()).toEqual({ ok: true, text: "Nobody is watching.\n0 cell(s), counts of 1 live node(s)" });
	});

	it("prints the watched cells busiest first, raw, cluster-wide or in a box, at either level", async () => {
		for (let i = 0; i < 3; i++) await watcher([CELL]);
		await watcher([OTHER]);
		await watcher(RING);
		const fine = await waitFor(async () => {
			const out = await run();
			return rowsOf(out.text)[CELL] === 4 ? out : null;
		});
		expect(fine.text.split("\n")[0]).toBe("Cell\tWatchers");
		expect(fine.text.split("\n")[1]).toBe(`${CELL}\t4`);
		expect(rowsOf(fine.text)).toEqual({ ...Object.fromEntries(RING.map(c => [c, 1])), [CELL]: 4, [OTHER]: 2 });
		expect(fine.text).toContain(`${RING.length} cell(s) at res ${RES}, counts of 1 live node(s)`);

		expect(rowsOf((await run({ top: "1" })).text)).toEqual({ [CELL]: 4 });

		// Coarse without a box: the fine cells' counts summed per parent (the ring socket counts once per fine cell).
		const watches = new Map<string, number>();
		for (const [cell, n] of Object.entries(rowsOf(fine.text)))
			watches.set(cellToParent(cell, RES - 2), (watches.get(cellToParent(cell, RES - 2)) ?? 0) + n);
		const coarse = await run({ res: "coarse" });
		expect(coarse.text.split("\n")[0]).toBe("Cell\tWatches (sum of fine cells)");
		expect(rowsOf(coarse.text)).toEqual(Object.fromEntries(watches));
		expect(coarse.text).toContain("counts once per fine cell");

		// With a box: live.demand, distinct sockets at the coarse level (the three on CELL, the ring, and OTHER's if it shares the parent).
		const parent = cellToParent(CELL, RES - 2);
		const boxed = await run({ bbox: BOX, res: "coarse" });
		expect(boxed.ok).toBe(true);
		expect(boxed.text.split("\n")[0]).toBe("Cell\tWatchers");
		expect(rowsOf(boxed.text)[parent]).toBe(4 + (cellToParent(OTHER, RES - 2) === parent ? 1 : 0));
		expect(rowsOf((await run({ bbox: BOX })).text)).toEqual(rowsOf(fine.text));
	});

	it.each([
		[{ res: "medium" }, /--res must be fine or coarse/],
		[{ bbox: "1,2,3" }, /bbox must be w,s,e,n/],
		[{ top: "0" }, /--top must be an integer from 1 to 1000/],
	])("%j prints the error and the usage line", async (options, message) => {
		const { ok, text } = await run(options);
		expect(ok).toBe(false);
		expect(text).toMatch(message);
		expect(text).toContain(`Usage: ${spec.usage}`);
	});
});
