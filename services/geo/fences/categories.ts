/** How long a vendor's categories serve before they are fetched again (the backstop for a lost `cache.clean.vendors`). */
export const CATEGORIES_TTL_MS = 30_000;
/** Vendors kept at most; the oldest go first. */
const MAX_VENDORS = 100_000;
/** Ids per fetch at most (what vendors.discoverable takes). */
const MAX_IDS_PER_FETCH = 5_000;

/** Fetches the categories of public vendors (vendors.discoverable); a vendor missing from the answer is not public. */
export type CategoriesSource = (ids: string[]) => Promise<{ id: string; categories: string[] }[]>;

type Entry = { categories: readonly string[]; at: number };

const NONE: readonly string[] = [];

/**
 * Vendor → categories on the geo node, for fences filtered by category: geo does not know them
 * and must never call vendors per position. An unknown vendor is fetched in the background, in
 * one batch per event-loop turn, and its category fences are evaluated from its next position
 * on; an expired entry serves while it is fetched again. `clear` (every vendor write broadcasts
 * `cache.clean.vendors`) marks everything stale, as the discovery node's card cache does.
 */
export class VendorCategories {
	readonly #source: CategoriesSource;
	readonly #onError: (err: Error) => void;
	readonly #entries = new Map<string, Entry>();
	readonly #wanted = new Set<string>();
	#scheduled = false;
	/** Bumped by `clear`: an answer fetched before a clear is not kept as fresh. */
	#generation = 0;

	constructor(source: CategoriesSource, onError: (err: Error) => void) {
		this.#source = source;
		this.#onError = onError;
	}

	/** The vendor's categories, or undefined while they are being fetched for the first time. */
	get(vendorId: string, now = Date.now()): readonly string[] | undefined {
		const entry = this.#entries.get(vendorId);
		if (!entry || now - entry.at >= CATEGORIES_TTL_MS) this.#want(vendorId);
		return entry?.categories;
	}

	clear(): void {
		this.#generation++;
		for (const entry of this.#entries.values()) entry.at = Number.NEGATIVE_INFINITY;
	}

	#want(vendorId: string): void {
		this.#wanted.add(vendorId);
		if (this.#scheduled) return;
		this.#scheduled = true;
		setImmediate(() => void this.#fetch());
	}

	async #fetch(): Promise<void> {
		this.#scheduled = false;
		const ids = [...this.#wanted];
		this.#wanted.clear();
		for (let i = 0; i < ids.length; i += MAX_IDS_PER_FETCH) {
			const batch = ids.slice(i, i + MAX_IDS_PER_FETCH);
			const generation = this.#generation;
			try {
				const found = new Map((await this.#source(batch)).map(v => [v.id, v.categories]));
				const at = generation === this.#generation ? Date.now() : Number.NEGATIVE_INFINITY;
				for (const id of batch) this.#remember(id, { categories: found.get(id) ?? NONE, at });
			} catch (err) {
				this.#onError(err as Error);
			}
		}
	}

	#remember(vendorId: string, entry: Entry): void {
		this.#entries.delete(vendorId);
		this.#entries.set(vendorId, entry);
		if (this.#entries.size > MAX_VENDORS) this.#entries.delete(this.#entries.keys().next().value!);
	}
}
