import { latLngToCell } from "h3-js";
import { describe, expect, it } from "vitest";
import type { LatLng } from "../../../../../lib/geo.ts";
import { HERE_TTL_S, type AlertFired, type Fence } from "../../../../../services/alerts/contract.ts";
import { VendorCategories } from "../../../../../services/geo/fences/categories.ts";
import { FenceEvaluator } from "../../../../../services/geo/fences/evaluate.ts";
import { MemoryFenceState } from "../../../../../services/geo/fences/state.ts";
import { fence, MITTE, offset } from "../../../../helpers/fences.ts";

const RES = 8;
const T0 = 1_750_000_000_000;

/** An evaluator on memory state; `categories` answers as vendors.discoverable would. */
async function setup(fences: Fence[], categories: Record<string, string[]> = {}) {
	const fired: AlertFired[] = [];
	const asked: string[][] = [];
	const source = async (ids: string[]) => {
		asked.push(ids);
		return ids.filter(id => categories[id]).map(id => ({ id, categories: categories[id]! }));
	};
	const evaluator = new FenceEvaluator({
		state: new MemoryFenceState(),
		categories: new VendorCategories(source, err => {
			throw err;
		}),
		positionRes: RES,
		fire: async (_ctx, f) => void fired.push(f),
	});
	await evaluator.load(fences);
	let ts = T0;
	/** A position of `vendorId` at `at`, `afterS` seconds after the previous one. */
	const at = async (vendorId: string, point: LatLng, afterS = 1) => {
		ts += afterS * 1000;
		await evaluator.evaluate(null, { vendorId, ...point, ts, cell: latLngToCell(point.lat, point.lng, RES) });
	};
	return { evaluator, fired, asked, at, transitions: () => fired.map(f => `${f.fenceId}:${f.vendorId}:${f.transition}`) };
}

const settle = () => new Promise(r => setImmediate(r));

describe("FenceEvaluator", () => {
	it("fires a vendor_nearby enter once for a vendor jittering on the border, and the exit beyond radius × 1.1", async () => {
		const { at, fired, transitions } = await setup([fence({ id: "al_1", on: ["enter", "exit"], minIntervalS: 0 })]);
		await at("ven_a", offset(MITTE, 2_000));
		for (const m of [495, 505, 498, 530, 499, 545, 497]) await at("ven_a", offset(MITTE, m)); // in, band, in, band …
		expect(transitions()).toEqual(["al_1:ven_a:enter"]);
		await at("ven_a", offset(MITTE, 560));
		expect(transitions()).toEqual(["al_1:ven_a:enter", "al_1:ven_a:exit"]);
		expect(fired[0]).toMatchObject({ kind: "vendor_nearby", userId: "user_a", distance: 495, position: { lat: offset(MITTE, 495).lat } });
		expect(fired[1]!.distance).toBe(560);
	});

	it("holds a fence back for its minimum interval per vendor", async () => {
		const { at, transitions } = await setup([fence({ id: "al_2", minIntervalS: 60 })]);
		await at("ven_a", MITTE);
		await at("ven_a", offset(MITTE, 900), 10);
		await at("ven_a", MITTE, 10); // re-entered 20 s after the first enter: held back
		await at("ven_b", MITTE, 1); // another vendor has its own interval
		await at("ven_a", offset(MITTE, 900), 10);
		await at("ven_a", MITTE, 50); // 80 s after the first enter
		expect(transitions()).toEqual(["al_2:ven_a:enter", "al_2:ven_b:enter", "al_2:ven_a:enter"]);
	});

	it("an area polygon fires enter and exit with a margin, for vendors matching its filter", async () => {
		const square = [offset(MITTE, -200, -200), offset(MITTE, 200, -200), offset(MITTE, 200, 200), offset(MITTE, -200, 200)];
		const area = fence({
			id: "al_3",
			kind: "area",
			shape: { type: "polygon", points: square.map(p => [p.lng, p.lat]) },
			filter: { vendorIds: ["ven_a"] },
			on: ["enter", "exit"],
			minIntervalS: 0,
		});
		const { at, transitions, fired } = await setup([area]);
		await at("ven_b", MITTE); // not in the filter
		await at("ven_a", offset(MITTE, 250));
		await at("ven_a", offset(MITTE, 150));
		await at("ven_a", offset(MITTE, 220)); // 20 m outside: within the margin
		await at("ven_a", offset(MITTE, 180));
		await at("ven_a", offset(MITTE, 240)); // 40 m outside
		expect(transitions()).toEqual(["al_3:ven_a:enter", "al_3:ven_a:exit"]);
		expect(fired.map(f => f.distance)).toEqual([0, 40]);
	});

	it("a zone fires its dwell once per stay, after dwellS inside", async () => {
		const square = [offset(MITTE, -300, -300), offset(MITTE, 300, -300), offset(MITTE, 300, 300), offset(MITTE, -300, 300)];
		const zone = fence({
			id: "zn_1",
			kind: "zone",
			userId: null,
			name: "Market square",
			shape: { type: "polygon", points: square.map(p => [p.lng, p.lat]) },
			on: ["enter", "exit", "dwell"],
			dwellS: 120,
			minIntervalS: 0,
		});
		const { at, transitions, fired } = await setup([zone]);
		await at("ven_a", MITTE);
		for (let i = 0; i < 5; i++) await at("ven_a", offset(MITTE, i * 10), 30);
		await at("ven_a", offset(MITTE, 800), 30);
		expect(transitions()).toEqual(["zn_1:ven_a:enter", "zn_1:ven_a:dwell", "zn_1:ven_a:exit"]);
		expect(fired[1]).toMatchObject({ name: "Market square", userId: null, kind: "zone", position: { ts: T0 + 1_000 + 120_000 } });
	});

	it("a roaming alert follows its owner's shared position, and tests nothing without one", async () => {
		const roaming = fence({ id: "al_4", roaming: true, shape: { type: "circle", center: null, radius: 300 }, minIntervalS: 0 });
		const { evaluator, at, transitions } = await setup([roaming]);
		const far = offset(MITTE, 5_000);
		await at("ven_a", far);
		expect(evaluator.counts.evaluated).toBe(0);
		evaluator.here({ userId: "user_a", at: offset(far, 1_000) }, Date.now());
		await at("ven_a", far);
		expect(transitions()).toEqual([]);
		evaluator.here({ userId: "user_a", at: offset(far, 100) }, Date.now()); // the customer walked up to the vendor
		await at("ven_a", far);
		expect(transitions()).toEqual(["al_4:ven_a:enter"]);
		evaluator.expireHere(Date.now() + HERE_TTL_S * 1000 + 1);
		const tested = evaluator.counts.evaluated;
		await at("ven_a", offset(far, 50));
		await at("ven_b", far);
		// Expired: the fence tests nothing; ven_a's stay resumes when its owner shares a position again.
		expect(evaluator.counts.evaluated - tested).toBe(0);
		expect(transitions()).toEqual(["al_4:ven_a:enter"]);
	});

	it("a favourites alert of a user without favourites fires for no vendor; a fence without a filter for any", async () => {
		const { at, transitions } = await setup([
			fence({ id: "al_7", filter: { vendorIds: [] }, minIntervalS: 0 }),
			fence({ id: "al_8", filter: {}, minIntervalS: 0 }),
		]);
		await at("ven_a", MITTE);
		expect(transitions()).toEqual(["al_8:ven_a:enter"]);
	});

	it("loads thousands of fences in chunks; a position meets only the fences of its cell that may want its vendor", async () => {
		const many = Array.from({ length: 2_500 }, (_, i) => fence({ id: `al_m${i}`, filter: { vendorIds: [`ven_m${i}`] }, minIntervalS: 0 }));
		const coffee = fence({ id: "al_cat", filter: { categories: ["coffee"] }, minIntervalS: 0 });
		const { evaluator, at, transitions } = await setup([...many, coffee], { ven_m2400: ["tacos"] });
		expect(evaluator.size).toBe(2_501);
		await at("ven_m2400", MITTE);
		await settle();
		await at("ven_m2400", offset(MITTE, 10));
		expect(transitions()).toEqual(["al_m2400:ven_m2400:enter"]);
		// Of 2 501 fences there, one lists the vendor and none wants its category.
		expect(evaluator.counts.evaluated).toBe(2);
	});

	it("a category filter fetches the vendor's categories once, in the background, and fires from its next position", async () => {
		const coffee = fence({ id: "al_5", filter: { categories: ["coffee"] }, minIntervalS: 0 });
		const { at, asked, transitions } = await setup([coffee], { ven_a: ["coffee", "cake"], ven_b: ["tacos"] });
		await at("ven_a", offset(MITTE, 1_000));
		await at("ven_b", offset(MITTE, 1_000));
		await settle();
		expect(asked).toEqual([["ven_a", "ven_b"]]);
		await at("ven_a", MITTE);
		await at("ven_b", MITTE);
		expect(transitions()).toEqual(["al_5:ven_a:enter"]);
		expect(asked).toHaveLength(1);
	});

	it("tests only the fences of the position's cell; a removed fence stops, offline ends a stay without an exit", async () => {
		const { evaluator, at, transitions } = await setup([fence({ id: "al_6", on: ["enter", "exit"], minIntervalS: 0 })]);
		await at("ven_a", offset(MITTE, 20_000));
		expect(evaluator.counts.evaluated).toBe(0);
		await at("ven_a", MITTE);
		await evaluator.offline("ven_a", T0 + 100_000);
		await at("ven_a", offset(MITTE, 2_000), 200);
		await at("ven_a", MITTE);
		evaluator.apply({ upsert: [], remove: ["al_6"] });
		await at("ven_a", offset(MITTE, 2_000));
		expect(transitions()).toEqual(["al_6:ven_a:enter", "al_6:ven_a:enter"]);
		expect(evaluator.size).toBe(0);
	});
});
