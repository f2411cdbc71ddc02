import type { Context } from "moleculer";
import { canBroadcast, type FixedLocation, type FixedLocationsParams, type Vendor } from "../vendors/contract.ts";

/** How long a cached card or stall tile may serve without a vendor write clearing it (the backstop for a lost broadcast). */
export const CARD_TTL_MS = 30_000;
/** Stall tiles are this many degrees on a side (~11 km of latitude). */
const TILE_DEG = 0.1;
/** A box over more tiles than this is asked of vendors directly (a wide search is rare, and would fill the cache). */
const MAX_TILES_PER_QUERY = 16;
/** Cards (and tiles) kept at most; the oldest go first. */
const MAX_ENTRIES = 50_000;

export type CardSource = {
	/** The public cards of these ids (vendors.discoverable: the others are not public now). */
	cards(ctx: Context, ids: string[]): Promise<Vendor[]>;
	/** The public stalls inside a box (vendors.fixedLocations). */
	stalls(ctx: Context, box: FixedLocationsParams): Promise<FixedLocation[]>;
};

type Timed<T> = { value: T; at: number };

/**
 * What discovery reads on every nearby request, kept on its node: vendor cards by id (null for a
 * vendor that is not public) and the public stalls per 0.1° tile. Every vendor write broadcasts
 * `cache.clean.vendors` (moleculer-db), which clears it all on every discovery node; entries also
 * expire after CARD_TTL_MS. A subscription that lapses at its `expiresAt` is checked at read time.
 */
export class VendorCards {
	readonly #source: CardSource;
	readonly #requireSubscription: boolean;
	readonly #cards = new Map<string, Timed<Vendor | null>>();
	readonly #tiles = new Map<string, Timed<FixedLocation[]>>();
	/** Bumped by `clear`: an answer fetched before a clear is used once, never kept. */
	#generation = 0;

	constructor(source: CardSource, requireSubscription: boolean) {
		this.#source = source;
		this.#requireSubscription = requireSubscription;
	}

	/** Forgets everything (a vendor was written somewhere). */
	clear(): void {
		this.#generation++;
		this.#cards.clear();
		this.#tiles.clear();
	}

	/** The public cards among `ids`, fetching the ones not cached (or expired) in one call. */
	async publicCards(ctx: Context, ids: readonly string[], now = Date.now()): Promise<Vendor[]> {
		const missing = ids.filter(id => !this.#fresh(this.#cards.get(id), now));
		const fetched = new Map<string, Vendor>();
		if (missing.length > 0) {
			const generation = this.#generation;
			for (const v of await this.#source.cards(ctx, missing)) fetched.set(v.id, v);
			if (generation === this.#generation) for (const id of missing) this.#remember(this.#cards, id, fetched.get(id) ?? null, now);
		}
		return ids.flatMap(id => {
			const card = fetched.get(id) ?? this.#cards.get(id)?.value;
			return card && canBroadcast(card, this.#requireSubscription, now) ? [card] : [];
		});
	}

	/** The public stalls inside `box` (from the cached tiles it overlaps; a wide or wrapping box is asked directly). */
	async stallsIn(ctx: Context, box: FixedLocationsParams, now = Date.now()): Promise<FixedLocation[]> {
		const tiles = tilesOf(box);
		if (!tiles) return this.#source.stalls(ctx, box);
		const inBox = new Map<string, FixedLocation>();
		for (const list of await Promise.all(tiles.map(tile => this.#tile(ctx, tile, now)))) {
			// A stall on a tile's edge is in both tiles: keep it once.
			for (const s of list)
				if (s.lat >= box.south && s.lat <= box.north && s.lng >= box.west && s.lng <= box.east) inBox.set(s.vendorId, s);
		}
		return [...inBox.values()];
	}

	async #tile(ctx: Context, tile: Tile, now: number): Promise<FixedLocation[]> {
		const cached = this.#tiles.get(tile.key);
		if (cached && this.#fresh(cached, now)) return cached.value;
		const generation = this.#generation;
		const stalls = await this.#source.stalls(ctx, tile.box);
		if (generation === this.#generation) this.#remember(this.#tiles, tile.key, stalls, now);
		return stalls;
	}

	#fresh<T>(entry: Timed<T> | undefined, now: number): boolean {
		return entry !== undefined && now - entry.at < CARD_TTL_MS;
	}

	#remember<T>(map: Map<string, Timed<T>>, key: string, value: T, now: number): void {
		map.delete(key);
		map.set(key, { value, at: now });
		if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
	}
}

type Tile = { key: string; box: FixedLocationsParams };

/** A tile edge, rounded so that adjacent tiles share it exactly (no stall falls between two tiles). */
const edge = (i: number) => Math.round(i * TILE_DEG * 1e9) / 1e9;

/** The 0.1° tiles a box overlaps, or null when it wraps the antimeridian or spans too many. */
function tilesOf({ south, north, west, east }: FixedLocationsParams): Tile[] | null {
	if (west < -180 || east > 180 || west > east) return null;
	const rows = [Math.floor(south / TILE_DEG), Math.floor(north / TILE_DEG)] as const;
	const cols = [Math.floor(west / TILE_DEG), Math.floor(east / TILE_DEG)] as const;
	if ((rows[1] - rows[0] + 1) * (cols[1] - cols[0] + 1) > MAX_TILES_PER_QUERY) return null;
	const tiles: Tile[] = [];
	for (let r = rows[0]; r <= rows[1]; r++) {
		for (let c = cols[0]; c <= cols[1]; c++) {
			tiles.push({
				key: `${r}:${c}`,
				box: {
					south: Math.max(-90, edge(r)),
					north: Math.min(90, edge(r + 1)),
					west: Math.max(-180, edge(c)),
					east: Math.min(180, edge(c + 1)),
				},
			});
		}
	}
	return tiles;
}
