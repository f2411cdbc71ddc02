import type { Context, Logger } from "moleculer";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../config/index.ts";
import { createStore, ensureIndexes, MONGO_CLIENT_OPTIONS, type Store } from "../../../mixins/db.mixin.ts";
import { recomputeRating } from "../../../services/vendors/reviews.ts";
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
