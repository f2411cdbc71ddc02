import type { Context, Logger } from "moleculer";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../config/index.ts";
import { createStore, ensureIndexes, MONGO_CLIENT_OPTIONS, type Store } from "../../../mixins/db.mixin.ts";
import type { SubscriptionState } from "../../../services/vendors/contract.ts";
import { NO_SUBSCRIPTION } from "../../../services/vendors/model.ts";
import { VendorRecords } from "../../../services/vendors/records.ts";
import { recomputeRating } from "../../../services/vendors/reviews.ts";
import { applyToVendors, keepSubscription } from "../../../services/vendors/subscription.ts";
import { applied, WebhookInbox, type InboxDoc } from "../../../services/webhooks/inbox.ts";

/**
 * No MongoDB server runs here, so these tests stop at the driver's collection: the real
 * moleculer-db Mongo adapter runs on a collection that records each operation it is asked
 * for and answers like a server would. What they show is which operations, filters and
 * updates our code makes the adapter issue, not what a server does with them.
 */
type Call = [op: string, ...args: unknown[]];
class RecordingCollection {
	readonly calls: Call[] = [];
	readonly docs = new Map<string, Record<string, unknown>>();
	modified: number[] = [];
	rows: Record<string, unknown>[] = [];

	findOne(filter: { _id: string }) {
		this.calls.push(["findOne", filter]);
		return Promise.resolve(this.docs.get(filter._id) ?? null);
	}
	find(filter: object) {
		this.calls.push(["find", filter]);
		const cursor = { sort: () => cursor, skip: () => cursor, limit: () => cursor, toArray: () => Promise.resolve(this.rows) };
		return cursor;
	}
	/** Refused like a server refuses a second document with the same `_id` (duplicate key). */
	insertOne(doc: { _id: string }) {
		this.calls.push(["insertOne", doc]);
		if (this.docs.has(doc._id))
			return Promise.reject(Object.assign(new Error("E11000 duplicate key error"), { name: "MongoError", code: 11000 }));
		this.docs.set(doc._id, doc);
		return Promise.resolve({ insertedCount: 1, ops: [doc] });
	}
	updateMany(filter: object, update: object) {
		this.calls.push(["updateMany", filter, update]);
		return Promise.resolve({ modifiedCount: this.modified.shift() ?? 1 });
	}
	createIndex(fields: object, options: object) {
		this.calls.push(["createIndex", fields, options]);
		return Promise.resolve("ok");
	}
}

const REPLICA_SET_URL = "mongodb://h1:27017,h2:27017,h3:27017/venta?replicaSet=rs0";

function mongoStore(collection: string): { store: Store; recorded: RecordingCollection } {
	const store = createStore(loadConfig({ DATA_DIR: ":memory:", MONGO_URL: REPLICA_SET_URL }), collection);
	store.init(null, { schema: { collection }, logger: console });
	const recorded = new RecordingCollection();
	store.collection = recorded;
	return { store, recorded };
}
const updates = (c: RecordingCollection) => c.calls.filter(call => call[0] === "updateMany");

const quiet = { warn: () => undefined } as unknown as Logger;
const ctx = { requestID: "req-1" } as Context;
const received = (id: string): InboxDoc => ({
	_id: id,
	source: "clerk",
	eventId: "evt_1",
	type: "user.created",
	payload: "{}",
	status: "received",
	reason: null,
	attempts: 0,
	error: null,
	result: null,
	history: [],
	receivedAt: "2026-01-01T00:00:00.000Z",
	appliedAt: null,
	lockedUntil: 0,
});

describe("the Mongo store, up to the driver (no server here)", () => {
	it("connects to a replica set with majority writes and reads on the primary, retrying what an election cuts", () => {
		const { store } = mongoStore("vendors");
		expect(store).toMatchObject({ uri: REPLICA_SET_URL, opts: MONGO_CLIENT_OPTIONS });
		expect(MONGO_CLIENT_OPTIONS).toEqual({
			useUnifiedTopology: true,
			w: "majority",
			wtimeout: 10_000,
			readConcern: { level: "majority" },
			readPreference: "primary",
			retryWrites: true,
			retryReads: true,
		});
	});

	it("claims a webhook event in one conditional update (the lease and the state in the filter) and counts what it changed", async () => {
		const { store, recorded } = mongoStore("webhook_inbox");
		recorded.docs.set("clerk:evt_1", received("clerk:evt_1"));
		const inbox = new WebhookInbox(store, quiet);
		const before = Date.now();
		await inbox
			.apply(ctx, "clerk:evt_1", false, async () => {
				recorded.docs.set("clerk:evt_1", { ...received("clerk:evt_1"), status: "applied" });
				return applied({});
			})
			.catch(() => undefined);
		const [claim] = updates(recorded);
		expect(claim).toEqual([
			"updateMany",
			{ _id: "clerk:evt_1", lockedUntil: { $lt: expect.any(Number) }, status: { $nin: ["applied", "stale", "ignored"] } },
			{ $set: { lockedUntil: expect.any(Number) }, $inc: { attempts: 1 } },
		]);
		const [, filter, update] = claim as [string, { lockedUntil: { $lt: number } }, { $set: { lockedUntil: number } }];
		expect(filter.lockedUntil.$lt).toBeGreaterThanOrEqual(before);
		expect(update.$set.lockedUntil).toBeGreaterThan(filter.lockedUntil.$lt);

		// Another node holds the lease: the server matches nothing, and this node does not apply it.
		const contended = mongoStore("webhook_inbox");
		contended.recorded.docs.set("clerk:evt_1", received("clerk:evt_1"));
		contended.recorded.modified = [0];
		let ran = false;
		const refused = new WebhookInbox(contended.store, quiet).apply(ctx, "clerk:evt_1", false, async () => {
			ran = true;
			return applied({});
		});
		await expect(refused).rejects.toMatchObject({ code: 409, type: "WEBHOOK_IN_PROGRESS" });
		expect(ran).toBe(false);
		expect(updates(contended.recorded)).toHaveLength(1);
	});

	it("stores a vendor's rating in one compare-and-set on ratingVersion, and reads again when another writer got in", async () => {
		const vendors = mongoStore("vendors");
		const reviews = mongoStore("reviews");
		vendors.recorded.docs.set("ven_x", { _id: "ven_x", ratingVersion: 3 });
		reviews.recorded.rows = [{ rating: 4 }, { rating: 5 }];
		vendors.recorded.modified = [0, 1];
		expect(await recomputeRating(vendors.store, reviews.store, "ven_x")).toEqual({ sum: 9, count: 2 });
		const set = { $set: { ratingSum: 9, ratingCount: 2 }, $inc: { ratingVersion: 1 } };
		expect(updates(vendors.recorded)).toEqual([
			["updateMany", { _id: "ven_x", ratingVersion: 3 }, set],
			["updateMany", { _id: "ven_x", ratingVersion: 3 }, set],
		]);
		expect(reviews.recorded.calls.filter(c => c[0] === "find")).toEqual([
			["find", { vendorId: "ven_x" }],
			["find", { vendorId: "ven_x" }],
		]);
	});

	it("keeps an owner's subscription in one conditional update (not newer held: the mark in the filter), the first one an insert", async () => {
		const state: SubscriptionState & { updatedAt: string } = { ...NO_SUBSCRIPTION, active: true, updatedAt: "2026-05-02T00:00:00.000Z" };
		const olderOrNone = {
			$or: [{ updatedAt: { $exists: false } }, { updatedAt: null }, { updatedAt: { $lte: "2026-05-02T00:00:00.000Z" } }],
		};

		// Held already, and newer on the server: the update matches nothing and the state is not taken.
		const held = mongoStore("subscriptions");
		held.recorded.docs.set("user_a", { _id: "user_a", updatedAt: "2026-05-03T00:00:00.000Z" });
		held.recorded.modified = [0];
		expect(await keepSubscription(held.store, "user_a", state)).toBe(false);
		expect(held.recorded.calls).toEqual([
			["findOne", { _id: "user_a" }],
			["updateMany", { _id: "user_a", ...olderOrNone }, { $set: state }],
		]);

		// None held: an insert on the unique _id.
		const first = mongoStore("subscriptions");
		expect(await keepSubscription(first.store, "user_b", state)).toBe(true);
		expect(first.recorded.calls).toEqual([
			["findOne", { _id: "user_b" }],
			["insertOne", { _id: "user_b", ...state }],
		]);

		// Another node inserted between the read and the insert: the duplicate key makes it the conditional update.
		const raced = mongoStore("subscriptions");
		const findOne = raced.recorded.findOne.bind(raced.recorded);
		raced.recorded.findOne = (filter: { _id: string }) =>
			findOne(filter).finally(() => raced.recorded.docs.set("user_c", { _id: "user_c", updatedAt: "2026-05-01T00:00:00.000Z" }));
		expect(await keepSubscription(raced.store, "user_c", state)).toBe(true);
		expect(raced.recorded.calls.slice(1)).toEqual([
			["insertOne", { _id: "user_c", ...state }],
			["updateMany", { _id: "user_c", ...olderOrNone }, { $set: state }],
		]);
	});

	it("sets a subscription on each vendor in one conditional update (live, no newer one held), skipping one the server refuses", async () => {
		const { store, recorded } = mongoStore("vendors");
		const vendorWith = (id: string, updatedAt: string | null) => ({
			_id: id,
			ownerId: "user_a",
			deletedAt: null,
			subscription: { ...NO_SUBSCRIPTION, updatedAt },
		});
		recorded.rows = [
			vendorWith("ven_old", "2026-05-01T00:00:00.000Z"),
			vendorWith("ven_newer", "2026-05-03T00:00:00.000Z"),
			vendorWith("ven_raced", null),
		];
		for (const row of recorded.rows) recorded.docs.set(String(row._id), row);
		recorded.modified = [1, 0];
		const state = { ...NO_SUBSCRIPTION, active: true, updatedAt: "2026-05-02T00:00:00.000Z" };

		const changed = await applyToVendors(new VendorRecords(store, async () => undefined, true), "user_a", state);
		expect(changed.map(c => [c.before.id, c.after.id])).toEqual([["ven_old", "ven_old"]]);
		expect(recorded.calls.filter(c => c[0] === "find")).toEqual([["find", { ownerId: "user_a", deletedAt: null }]]);
		const condition = {
			deletedAt: null,
			$or: [
				{ "subscription.updatedAt": { $exists: false } },
				{ "subscription.updatedAt": null },
				{ "subscription.updatedAt": { $lte: "2026-05-02T00:00:00.000Z" } },
			],
		};
		const set = { $set: { subscription: state, updatedAt: expect.any(String) } };
		// The vendor already holding a newer one is not written at all; the one another writer got to first matched nothing.
		expect(updates(recorded)).toEqual([
			["updateMany", { _id: "ven_old", ...condition }, set],
			["updateMany", { _id: "ven_raced", ...condition }, set],
		]);
	});

	it("creates every index at start, text and unique ones included", async () => {
		const { store, recorded } = mongoStore("vendors");
		await ensureIndexes(store, true, [
			{ fields: { status: 1 } },
			{ fields: { name: "text", description: "text" } },
			{ fields: { slug: 1 }, unique: true },
		]);
		expect(recorded.calls).toEqual([
			["createIndex", { status: 1 }, { unique: false }],
			["createIndex", { name: "text", description: "text" }, { unique: false }],
			["createIndex", { slug: 1 }, { unique: true }],
		]);
	});
});
