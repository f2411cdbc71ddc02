import type { Context } from "moleculer";
import { servicePart, type VentaService } from "../../config/settings.ts";
import { forbidden } from "../../lib/errors.ts";
import { emitDomainEvent } from "../../lib/events.ts";
import { vendorIdParam } from "../../lib/ids.ts";
import type { Caller, CallerMeta } from "../../lib/identity.ts";
import type { DbMethods, Store } from "../../mixins/db.mixin.ts";
import {
	DEFAULT_PAGE_SIZE,
	pageSchema,
	REVIEW_SCHEMA,
	SUBMITTED_REVIEW_SCHEMA,
	type Page,
	type Review,
	type ReviewsParams,
	type SubmitReviewParams,
} from "./contract.ts";
import { pageParams, toVendor } from "./model.ts";
import { findPage, type VendorsState } from "./records.ts";

export const reviewId = (vendorId: string, userId: string) => `${vendorId}:${userId}`;

export function toReview(doc: Record<string, unknown>): Review {
	const { _id, ...rest } = doc;
	return { id: String(_id), ...(rest as Omit<Review, "id">) };
}

/**
 * Writes the caller's review: inserts it, or replaces their earlier one. A concurrent insert by
 * the same user loses on the unique id and becomes an update. Returns the review and whether it is new.
 */
export async function saveReview(
	store: Store,
	vendorId: string,
	userId: string,
	rating: number,
	text: string
): Promise<{ review: Review; created: boolean }> {
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
	const saved = await store.findById(id);
	if (!saved) throw new Error(`review ${id} vanished while it was saved`);
	return { review: toReview(saved), created: false };
}

/**
 * Recomputes a vendor's rating from its reviews and stores it only if nobody stored one since
 * this read began (compare-and-set on `ratingVersion`); otherwise reads again. Every writer
 * recomputes after its own write, so the last successful store has seen every review: sum and
 * count stay exact under concurrent submissions on any number of nodes.
 */
export async function recomputeRating(vendors: Store, reviews: Store, vendorId: string): Promise<{ sum: number; count: number }> {
	for (let attempt = 0; ; attempt++) {
		const vendor = await vendors.findById<{ ratingVersion?: number }>(vendorId);
		if (!vendor) return { sum: 0, count: 0 };
		const version = vendor.ratingVersion ?? 0;
		const rows = await reviews.find<{ rating: number }>({ query: { vendorId } });
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

type ReviewsThis = VentaService<object, DbMethods, VendorsState>;
type CreatedMeta = CallerMeta & { $statusCode?: number; $location?: string };

/** The reviews routes of the vendors service (`/api/vendors/:id/reviews`), mixed into it. */
export const reviewActions = servicePart<object, DbMethods, VendorsState>({
	actions: {
		/** `GET /api/vendors/:id/reviews` — newest first. */
		reviews: {
			rest: "GET /:id/reviews",
			params: { $$strict: true, id: vendorIdParam, ...pageParams },
			openapi: { responses: { 200: pageSchema("ReviewPage", REVIEW_SCHEMA) } },
			async handler(this: ReviewsThis, ctx: Context<ReviewsParams>): Promise<Page<Review>> {
				const { id, page = 1, pageSize = DEFAULT_PAGE_SIZE } = ctx.params;
				await this.records.live(id);
				return findPage(this.reviewStore, { vendorId: id }, ["-updatedAt", "-_id"], page, pageSize, toReview);
			},
		},

		/** `POST /api/vendors/:id/reviews` — one per user per vendor: a second submission replaces the first. */
		submitReview: {
			rest: "POST /:id/reviews",
			auth: "required",
			params: {
				$$strict: true,
				id: vendorIdParam,
				rating: { type: "number", integer: true, min: 1, max: 5 },
				text: { type: "string", trim: true, max: 2000, optional: true },
			},
			// 201 for a first review, 200 when it replaces the caller's earlier one; 403 on your own vendor.
			openapi: { responses: { 200: SUBMITTED_REVIEW_SCHEMA, 201: SUBMITTED_REVIEW_SCHEMA }, errors: [403] },
			async handler(this: ReviewsThis, ctx: Context<SubmitReviewParams, CreatedMeta>) {
				const { id, rating, text = "" } = ctx.params;
				const user = ctx.meta.user as Caller;
				const vendor = await this.records.live(id);
				if (vendor.ownerId === user.id) throw forbidden("You cannot review your own vendor");
				const { review, created } = await saveReview(this.reviewStore, id, user.id, rating, text);
				const { sum, count } = await this.ratingQueue.run(id, () => recomputeRating(this.adapter, this.reviewStore, id));
				await this.clearCache();
				const average = toVendor({ ...vendor, ratingSum: sum, ratingCount: count }).rating;
				await emitDomainEvent(
					this,
					ctx,
					"marketplace.review_submitted",
					{ review, created, rating: average },
					{ vendorId: id, userId: user.id }
				);
				if (created) {
					ctx.meta.$statusCode = 201;
					ctx.meta.$location = `/api/vendors/${id}/reviews`;
				}
				return { review, rating: average };
			},
		},
	},
});
