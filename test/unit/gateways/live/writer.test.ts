import { describe, expect, it } from "vitest";
import type { Logger } from "moleculer";
import { PositionWriter, RETRY_FIRST_MS, type WriteOutcome } from "../../../../gateways/live/writer.ts";
import { UPDATE_MANY_MAX, type UpdateManyItemResult, type UpdateParams } from "../../../../services/geo/contract.ts";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
const position = (ts: number) => ({ lat: 52.52, lng: 13.405, ts, cell: "881f1d4887fffff" });
const turn = () => new Promise(resolve => setImmediate(resolve));

/** A geo stand-in: records each batch; answers applied (or what `answer` says) once `release` is called. */
function fakeGeo(answer: (p: UpdateParams) => UpdateManyItemResult = p => applied(p)) {
	const batches: UpdateParams[][] = [];
	const pending: (() => void)[] = [];
	let failNext = false;
	return {
		batches,
		failNext: () => {
			failNext = true;
		},
		release: () => {
			for (const go of pending.splice(0)) go();
		},
		write(batch: UpdateParams[]): Promise<UpdateManyItemResult[]> {
			batches.push(batch);
			const fail = failNext;
			failNext = false;
			return new Promise((resolve, reject) => pending.push(() => (fail ? reject(new Error("geo down")) : resolve(batch.map(answer)))));
		},
	};
}

function applied(p: UpdateParams): UpdateManyItemResult {
	return {
		applied: true,
		location: { vendorId: p.vendorId, lat: p.lat as number, lng: p.lng as number, ts: p.ts as number, cell: "c1", online: true },
		previous: null,
	};
}

function writerWith(geo: ReturnType<typeof fakeGeo>) {
	const outcomes: [string, WriteOutcome["kind"]][] = [];
	const writer = new PositionWriter({
		write: b => geo.write(b),
		onOutcome: (id, o) => outcomes.push([id, o.kind]),
		logger: quiet,
		windowMs: 0,
	});
	return { writer, outcomes };
}

describe("PositionWriter (group commit of vendor positions, behind the stream)", () => {
	it("sends the positions of one loop turn in one batch, and the next batch only when that one returned", async () => {
		const geo = fakeGeo();
		const { writer, outcomes } = writerWith(geo);
		writer.enqueue("ven_a", position(1));
		writer.enqueue("ven_b", position(1));
		await turn();
		expect(geo.batches.map(b => b.map(p => p.vendorId))).toEqual([["ven_a", "ven_b"]]);
		writer.enqueue("ven_c", position(2));
		await turn();
		expect(geo.batches).toHaveLength(1); // one batch in flight per node
		geo.release();
		await turn();
		expect(geo.batches.map(b => b.map(p => p.vendorId))).toEqual([["ven_a", "ven_b"], ["ven_c"]]);
		geo.release();
		await turn();
		expect(outcomes).toEqual([
			["ven_a", "stored"],
			["ven_b", "stored"],
			["ven_c", "stored"],
		]);
	});

	it("keeps the latest waiting position of a vendor (older ones were streamed, only the latest is written)", async () => {
		const geo = fakeGeo();
		const { writer, outcomes } = writerWith(geo);
		writer.enqueue("ven_a", position(1));
		writer.enqueue("ven_a", position(2));
		writer.enqueue("ven_a", position(3));
		await turn();
		expect(geo.batches[0]).toEqual([{ vendorId: "ven_a", ...position(3) }]);
		geo.release();
		await turn();
		expect(outcomes).toEqual([["ven_a", "stored"]]);
	});

	it("keeps a batch geo did not take and writes it again after a backoff, latest per vendor", async () => {
		const geo = fakeGeo();
		const { writer, outcomes } = writerWith(geo);
		geo.failNext();
		writer.enqueue("ven_a", position(1));
		writer.enqueue("ven_b", position(1));
		await turn();
		writer.enqueue("ven_b", position(2)); // arrives while the failing batch is in flight
		expect(writer.backlog).toBe(3);
		geo.release();
		await turn();
		expect(outcomes).toEqual([]);
		expect(geo.batches).toHaveLength(1); // waiting out the backoff
		await new Promise(r => setTimeout(r, RETRY_FIRST_MS + 50));
		expect(geo.batches[1]).toEqual([
			{ vendorId: "ven_b", ...position(2) },
			{ vendorId: "ven_a", ...position(1) },
		]);
		geo.release();
		await writer.settled("ven_a");
		expect(outcomes).toEqual([
			["ven_b", "stored"],
			["ven_a", "stored"],
		]);
		expect(writer.backlog).toBe(0);
	});

	it("reports geo's per-position verdicts: stale and invalid", async () => {
		const geo = fakeGeo(p =>
			p.vendorId === "ven_old"
				? { applied: false, reason: "stale" }
				: { applied: false, reason: "invalid", field: "ts", message: "ts is in the future" }
		);
		const outcomes: WriteOutcome[] = [];
		const writer = new PositionWriter({ write: b => geo.write(b), onOutcome: (_id, o) => outcomes.push(o), logger: quiet, windowMs: 0 });
		writer.enqueue("ven_old", position(1));
		writer.enqueue("ven_skew", position(1));
		await turn();
		geo.release();
		await turn();
		expect(outcomes).toEqual([{ kind: "stale" }, { kind: "invalid", message: "ts is in the future" }]);
	});

	it("caps a batch at geo.updateMany's limit; the rest follow in the next", async () => {
		const geo = fakeGeo();
		const { writer } = writerWith(geo);
		for (let i = 0; i <= UPDATE_MANY_MAX; i++) writer.enqueue(`ven_${i}`, position(1));
		await turn();
		expect(geo.batches[0]).toHaveLength(UPDATE_MANY_MAX);
		geo.release();
		await turn();
		expect(geo.batches[1]).toEqual([{ vendorId: `ven_${UPDATE_MANY_MAX}`, ...position(1) }]);
		geo.release();
	});

	it("settles a vendor once nothing of it is waiting or in flight (offline comes after its last position)", async () => {
		const geo = fakeGeo();
		const { writer } = writerWith(geo);
		await writer.settled("ven_idle");
		writer.enqueue("ven_a", position(1));
		let settled = false;
		void writer.settled("ven_a").then(() => {
			settled = true;
		});
		await turn();
		expect(settled).toBe(false);
		geo.release();
		await turn();
		expect(settled).toBe(true);
	});

	it("gathers the positions of a window into one batch, and what came in during a flight waits for the rest of its window", async () => {
		const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
		const geo = fakeGeo();
		const writer = new PositionWriter({ write: b => geo.write(b), onOutcome: () => undefined, logger: quiet, windowMs: 200 });
		writer.enqueue("ven_a", position(1));
		await sleep(20);
		writer.enqueue("ven_b", position(1));
		writer.enqueue("ven_a", position(2));
		expect(geo.batches).toEqual([]);
		await sleep(240);
		// One batch, the latest of each vendor; it went when the window closed (~200 ms).
		expect(geo.batches).toEqual([
			[
				{ vendorId: "ven_a", ...position(2) },
				{ vendorId: "ven_b", ...position(1) },
			],
		]);
		writer.enqueue("ven_c", position(3));
		geo.release();
		await sleep(20);
		expect(geo.batches).toHaveLength(1); // the second window (from ~200 ms) is still open
		await sleep(300);
		expect(geo.batches.map(b => b.map(p => p.vendorId))).toEqual([["ven_a", "ven_b"], ["ven_c"]]);
		geo.release();
	});
});
