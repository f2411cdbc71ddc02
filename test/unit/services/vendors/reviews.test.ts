import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../../config/index.ts";
import { createStore, type Store } from "../../../../mixins/db.mixin.ts";
import { recomputeRating, saveReview } from "../../../../services/vendors/reviews.ts";
import { testEnv } from "../../../helpers/engine.ts";

const pause = (maxMs: number) => new Promise(r => setTimeout(r, Math.random() * maxMs));

/** The same store, but each read answers a little late: the window in which another writer gets in. */
function slowReads(store: Store): Store {
	return Object.assign(Object.create(store) as Store, {
		find: async (params: Parameters<Store["find"]>[0]) => {
			const rows = await store.find(params);
			await pause(15);
			return rows;
		},
	});
}

async function openMemoryStore(collection: string): Promise<Store> {
	const store = createStore(loadConfig(await testEnv()), collection);
	store.init(null, { schema: { collection } });
	await store.connect();
	return store;
}

describe("rating recomputation without the per-process queue (as between nodes)", () => {
	it("stays exact when writers race: compare-and-set retries until the last store saw every review", async () => {
		const vendors = await openMemoryStore("vendors");
		const reviews = slowReads(await openMemoryStore("reviews"));
		await vendors.insert({ _id: "ven_race", ratingSum: 0, ratingCount: 0, ratingVersion: 0 });

		const ratings = Array.from({ length: 30 }, (_, i) => (i % 5) + 1);
		await Promise.all(
			ratings.map(async (rating, i) => {
				await pause(40);
				await saveReview(reviews, "ven_race", `user_${i}`, rating, "");
				await recomputeRating(vendors, reviews, "ven_race");
			})
		);
		// Ten of them change their minds while others recompute.
		await Promise.all(
			ratings.slice(0, 10).map(async (_, i) => {
				await pause(40);
				await saveReview(reviews, "ven_race", `user_${i}`, 5, "changed");
				await recomputeRating(vendors, reviews, "ven_race");
			})
		);

		const doc = (await vendors.findById<{ ratingSum: number; ratingCount: number; ratingVersion: number }>("ven_race"))!;
		const expectedSum = 10 * 5 + ratings.slice(10).reduce((a, b) => a + b, 0);
		expect({ sum: doc.ratingSum, count: doc.ratingCount }).toEqual({ sum: expectedSum, count: 30 });
		expect(doc.ratingVersion).toBeGreaterThanOrEqual(1);
		expect(await reviews.count({ query: { vendorId: "ven_race" } })).toBe(30);
	});
});
