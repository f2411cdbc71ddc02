import type { Store } from "../../mixins/db.mixin.ts";

/** One review per user per vendor: its id is `<vendorId>:<userId>`. */
export type Review = { id: string; vendorId: string; userId: string; rating: number; text: string; createdAt: string; updatedAt: string };

export const reviewId = (vendorId: string, userId: string) => `${vendorId}:${userId}`;

export function toReview(doc: Record<string, unknown>): Review {
	const { _id, ...rest } = doc;
	return { id: String(_id), ...(rest as Omit<Review, "id">) };
}

/**
 * Writes the caller's review: inserts it, or replaces their earlier one. A concurrent insert by
 * the same user loses on the unique id and becomes an update. Returns the review and whether it is new.
 */
export async function saveReview(store: Store, vendorId: string, userId: string, rating: number, text: string): Promise<{ review: Review; created: boolean }> {
	const id = reviewId(vendorId, userId);
	const now = new Date().toISOString();
	const existing = await store.findById(id);
	if (!existing) {
		try {
			const doc = await store.insert({ _id: id, vendorId, userId, rating, text, createdAt: now, updatedAt: now });
			return { review: toReview(doc), created: true };
		} catch (err) {
			if (!(await store.findById(id))) throw err;
		}
	}
	await store.updateMany({ _id: id }, { $set: { rating, text, updatedAt: now } });
	return { review: toReview(await store.findById(id)), created: false };
}

/**
 * Recomputes a vendor's rating from its reviews and stores it only if nobody stored one since
 * this read began (compare-and-set on `ratingVersion`); otherwise reads again. Every writer
 * recomputes after its own write, so the last successful store has seen every review: sum and
 * count stay exact under concurrent submissions on any number of nodes.
 */
export async function recomputeRating(vendors: Store, reviews: Store, vendorId: string): Promise<{ sum: number; count: number }> {
	for (let attempt = 0; ; attempt++) {
		const vendor = await vendors.findById(vendorId);
		if (!vendor) return { sum: 0, count: 0 };
		const version: number = vendor.ratingVersion ?? 0;
		const rows: { rating: number }[] = await reviews.find({ query: { vendorId } });
		const sum = rows.reduce((total, r) => total + r.rating, 0);
		const stored = await vendors.updateMany(
			{ _id: vendorId, ratingVersion: version },
			{ $set: { ratingSum: sum, ratingCount: rows.length }, $inc: { ratingVersion: 1 } }
		);
		if (stored > 0) return { sum, count: rows.length };
		if (attempt >= 50) throw new Error(`rating of ${vendorId} kept changing; gave up after ${attempt} attempts`);
		await new Promise(r => setTimeout(r, Math.random() * 10 * Math.min(attempt + 1, 5)));
	}
}
