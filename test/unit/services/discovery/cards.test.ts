import { describe, expect, it } from "vitest";
import type { Context } from "moleculer";
import { CARD_TTL_MS, VendorCards } from "../../../../services/discovery/cards.ts";
import type { FixedLocation, FixedLocationsParams, Vendor } from "../../../../services/vendors/contract.ts";

const ctx = {} as Context;
const card = (id: string, over: Partial<Vendor> = {}): Vendor => ({
	id,
	ownerId: "user_1",
	name: id,
	description: "",
	categories: [],
	status: "active",
	subscription: { active: true, entitlements: [], expiresAt: null },
	rating: { average: 0, count: 0 },
	createdAt: "",
	updatedAt: "",
	...over,
});

/** A vendors stand-in that counts what discovery asks of it. */
function source(publicCards: Vendor[], stalls: FixedLocation[]) {
	const asked = { cards: [] as string[][], stalls: [] as FixedLocationsParams[] };
	return {
		asked,
		cards: async (_ctx: Context, ids: string[]) => {
			asked.cards.push(ids);
			return publicCards.filter(c => ids.includes(c.id));
		},
		stalls: async (_ctx: Context, box: FixedLocationsParams) => {
			asked.stalls.push(box);
			return stalls.filter(s => s.lat >= box.south && s.lat <= box.north && s.lng >= box.west && s.lng <= box.east);
		},
	};
}

describe("VendorCards (discovery's cache of cards and stalls)", () => {
	it("asks vendors only for the cards it does not hold, remembers who is not public, and forgets all on clear", async () => {
		const src = source([card("ven_a"), card("ven_b")], []);
		const cards = new VendorCards(src, false);
		expect((await cards.publicCards(ctx, ["ven_a", "ven_x"], 0)).map(c => c.id)).toEqual(["ven_a"]);
		expect((await cards.publicCards(ctx, ["ven_a", "ven_x", "ven_b"], 1)).map(c => c.id)).toEqual(["ven_a", "ven_b"]);
		expect(src.asked.cards).toEqual([["ven_a", "ven_x"], ["ven_b"]]);
		await cards.publicCards(ctx, ["ven_a"], CARD_TTL_MS + 1);
		expect(src.asked.cards.at(-1)).toEqual(["ven_a"]);
		cards.clear();
		await cards.publicCards(ctx, ["ven_b"], CARD_TTL_MS + 2);
		expect(src.asked.cards.at(-1)).toEqual(["ven_b"]);
	});

	it("does not keep an answer fetched while a vendor write cleared the cache", async () => {
		let asked = 0;
		let release: () => void = () => undefined;
		const cards = new VendorCards(
			{
				cards: () => {
					asked++;
					if (asked > 1) return Promise.resolve([card("ven_a", { name: "new" })]);
					return new Promise(resolve => {
						release = () => resolve([card("ven_a", { name: "old" })]);
					});
				},
				stalls: async () => [],
			},
			false
		);
		const pending = cards.publicCards(ctx, ["ven_a"], 0);
		cards.clear();
		release();
		// The request that asked gets its answer, but the cache does not keep it: the next one asks again.
		expect((await pending)[0]!.name).toBe("old");
		expect((await cards.publicCards(ctx, ["ven_a"], 1))[0]!.name).toBe("new");
		expect(asked).toBe(2);
	});

	it("drops a card whose subscription lapsed since it was fetched, when subscriptions are required", async () => {
		const lapsing = card("ven_s", { subscription: { active: true, entitlements: [], expiresAt: new Date(1_000).toISOString() } });
		const cards = new VendorCards(source([lapsing], []), true);
		expect(await cards.publicCards(ctx, ["ven_s"], 500)).toHaveLength(1);
		expect(await cards.publicCards(ctx, ["ven_s"], 1_500)).toHaveLength(0);
	});

	it("serves stalls from 0.1° tiles, once each even on a tile edge, and asks directly for a wide box", async () => {
		const stalls = [
			{ vendorId: "ven_in", lat: 52.52, lng: 13.4 },
			{ vendorId: "ven_edge", lat: 52.5, lng: 13.45 },
			{ vendorId: "ven_out", lat: 53.5, lng: 13.4 },
		];
		const src = source([], stalls);
		const cards = new VendorCards(src, false);
		const box = { south: 52.45, north: 52.55, west: 13.35, east: 13.5 };
		expect((await cards.stallsIn(ctx, box, 0)).map(s => s.vendorId).sort()).toEqual(["ven_edge", "ven_in"]);
		const tilesAsked = src.asked.stalls.length;
		expect(tilesAsked).toBe(6); // 2 rows × 3 columns of tiles (east sits on a tile edge)
		await cards.stallsIn(ctx, { south: 52.51, north: 52.53, west: 13.39, east: 13.41 }, 1);
		expect(src.asked.stalls).toHaveLength(tilesAsked);
		const wide = { south: 50, north: 55, west: 10, east: 15 };
		expect((await cards.stallsIn(ctx, wide, 2)).map(s => s.vendorId).sort()).toEqual(["ven_edge", "ven_in", "ven_out"]);
		expect(src.asked.stalls.at(-1)).toEqual(wide);
	});
});
