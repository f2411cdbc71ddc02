import type { Context } from "moleculer";
import type { LatLng } from "../../../lib/geo.ts";
import { HERE_TTL_S, type AlertFired, type Fence, type FencesChanged, type HereUpdate } from "../../alerts/contract.ts";
import type { StoredPosition } from "../contract.ts";
import type { VendorCategories } from "./categories.ts";
import { FenceIndex, getOrCreate } from "./index.ts";
import { compileShape, type CompiledShape, type Side } from "./shapes.ts";
import type { FenceStateStore, Rule } from "./state.ts";

/** A fence with what evaluating it needs, computed once when it is loaded or re-centered. */
type Live = {
	fence: Fence;
	shape: CompiledShape | null;
	rule: Rule;
	vendorIds: ReadonlySet<string> | null;
	/** null: any category. */
	categories: ReadonlySet<string> | null;
	/** The last evaluation that tested it. */
	run: number;
};

export type EvaluatorCounts = { evaluated: number; fired: Record<Fence["kind"], number> };

export type FenceEvaluatorOptions = {
	state: FenceStateStore;
	categories: VendorCategories;
	/** H3_RES: the resolution of the positions' cells. */
	positionRes: number;
	fire(ctx: Context | null, fired: AlertFired): Promise<void>;
};

/** With shared (Redis) state, a vendor's stays are read again after this long on its clock. */
const STAYS_REREAD_MS = 10_000;
/** Fences indexed per event-loop turn while loading (~20 ms). */
const LOAD_CHUNK = 1_000;
const NO_IDS: readonly string[] = [];
const NO_LIVE: readonly Live[] = [];
const NOT_LOOKED_UP: readonly string[] = [];

/**
 * Tests accepted positions against the fences of their cell that may want the vendor (about any
 * vendor, about one of its categories, or listing it) and the fences the vendor is inside,
 * and fires enter/exit/dwell through the state store (hysteresis, minimum interval, dwell).
 * Roaming circles follow their owner's shared position and are indexed only while it is fresh.
 */
export class FenceEvaluator {
	readonly #opts: FenceEvaluatorOptions;
	readonly #fences = new Map<string, Live>();
	readonly #index: FenceIndex<Live>;
	/** Per vendor, the fences it is inside as this node last saw (a vendor not here yet is asked of the state store once). */
	readonly #inside = new Map<string, { ids: Set<string>; readAt: number }>();
	/** Roaming fences by owner, and the owners' shared positions with when they arrived. */
	readonly #roaming = new Map<string, Set<string>>();
	readonly #here = new Map<string, { at: LatLng; receivedAt: number }>();
	/** The categories of the vendor whose position is being tested (looked up on the first category fence). */
	#vendorCategories: readonly string[] = NOT_LOOKED_UP;
	/** Counts evaluations: a fence remembers the last one that tested it. */
	#run = 0;
	readonly counts: EvaluatorCounts = { evaluated: 0, fired: { vendor_nearby: 0, area: 0, zone: 0 } };

	constructor(opts: FenceEvaluatorOptions) {
		this.#opts = opts;
		this.#index = new FenceIndex(opts.positionRes);
	}

	/** The vendor → categories cache category filters read. */
	get categories(): VendorCategories {
		return this.#opts.categories;
	}

	/** Fences loaded (active or not). */
	get size(): number {
		return this.#fences.size;
	}

	/**
	 * Replaces every fence (a load of alerts.fences), LOAD_CHUNK at a time with the event loop
	 * free in between (indexing 100 000 fences takes seconds): positions meanwhile meet the fences
	 * loaded so far.
	 */
	async load(fences: readonly Fence[]): Promise<void> {
		this.#fences.clear();
		this.#index.clear();
		this.#roaming.clear();
		for (let i = 0; i < fences.length; i += LOAD_CHUNK) {
			if (i > 0) await new Promise(resolve => setImmediate(resolve));
			this.apply({ upsert: fences.slice(i, i + LOAD_CHUNK), remove: [] });
		}
	}

	apply(changes: FencesChanged): void {
		for (const id of changes.remove) {
			this.#drop(id);
			this.#opts.state.forget(id).catch(() => undefined); // state expires by itself otherwise
		}
		for (const fence of changes.upsert) {
			this.#drop(fence.id);
			if (fence.roaming && fence.userId) {
				getOrCreate(this.#roaming, fence.userId, () => new Set<string>()).add(fence.id);
			}
			this.#put(fence);
		}
	}

	/** A customer's shared position: their roaming fences are re-centered and re-indexed (`at: null` deactivates them). */
	here(update: HereUpdate, now = Date.now()): void {
		if (update.at) this.#here.set(update.userId, { at: update.at, receivedAt: now });
		else this.#here.delete(update.userId);
		for (const id of this.#roaming.get(update.userId) ?? []) {
			const live = this.#fences.get(id);
			if (live) this.#put(live.fence);
		}
	}

	/** Forgets shared positions older than HERE_TTL_S: their roaming fences stop testing. */
	expireHere(now = Date.now()): void {
		for (const [userId, here] of this.#here) if (now - here.receivedAt > HERE_TTL_S * 1000) this.here({ userId, at: null }, now);
	}

	/**
	 * Tests an accepted position; resolves when its transitions have fired. Geometry and filters are
	 * tested here, synchronously; the state store is asked only where something can change (the
	 * position is in, or the vendor is inside), so a position near many fences costs no promise each.
	 */
	evaluate(ctx: Context | null, p: StoredPosition): Promise<void> | undefined {
		if (this.#fences.size === 0) return undefined;
		const stays = this.#inside.get(p.vendorId);
		// Shared state: read again now and then, in case another replica opened or closed a stay.
		if (stays === undefined || (this.#opts.state.shared && p.ts - stays.readAt > STAYS_REREAD_MS))
			return this.#loadInside(p.vendorId, p.ts).then(() => this.evaluate(ctx, p));
		const inside = stays.ids;
		const inCell = this.#index.candidates(p.cell);
		if (!inCell && inside.size === 0) return undefined;
		const steps: Promise<void>[] = [];
		const run = ++this.#run;
		this.#vendorCategories = NOT_LOOKED_UP;
		if (inCell) {
			for (const live of inCell.any) this.#test(ctx, live, p, inside, steps, run);
			for (const live of inCell.byVendor.get(p.vendorId) ?? NO_LIVE) this.#test(ctx, live, p, inside, steps, run);
			if (inCell.byCategory.size > 0)
				for (const category of this.#categoriesOf(p.vendorId))
					for (const live of inCell.byCategory.get(category) ?? NO_LIVE) this.#test(ctx, live, p, inside, steps, run);
		}
		for (const id of inside) {
			const live = this.#fences.get(id);
			if (live) this.#test(ctx, live, p, inside, steps, run);
		}
		return steps.length > 0 ? Promise.all(steps).then(() => undefined) : undefined;
	}

	/** The vendor went offline: its stays end without an exit (it did not drive out; we stopped knowing where it is). */
	async offline(vendorId: string, ts: number): Promise<void> {
		const inside = this.#inside.get(vendorId)?.ids ?? new Set(await this.#opts.state.insideOf(vendorId));
		this.#inside.delete(vendorId);
		await Promise.all([...inside].map(id => this.#opts.state.step(id, vendorId, "off", ts, this.#fences.get(id)?.rule ?? OFF_RULE)));
	}

	close(): Promise<void> {
		return this.#opts.state.close();
	}

	async #loadInside(vendorId: string, readAt: number): Promise<void> {
		this.#inside.set(vendorId, { ids: new Set(await this.#opts.state.insideOf(vendorId)), readAt });
	}

	/** Tests one fence; pushes its state step to `steps` when the position can change something. */
	#test(ctx: Context | null, live: Live, p: StoredPosition, inside: ReadonlySet<string>, steps: Promise<void>[], run: number): void {
		// A fence met twice for one position (in two of its categories, or the vendor is inside it) is tested once.
		if (live.run === run) return;
		live.run = run;
		const shape = live.shape;
		if (!shape) return;
		// Most fences of a cell are elsewhere in it: outside their box, only a vendor inside one has anything to test.
		const { south, north, west, east } = shape.bounds;
		const away = p.lat < south || p.lat > north || p.lng < west || p.lng > east;
		if (away && (inside.size === 0 || !inside.has(live.fence.id))) return;
		if (!this.#matches(live, p.vendorId)) return;
		this.counts.evaluated++;
		const side = shape.observe(p.lat, p.lng);
		// Only an entry, an exit or a dwell changes the state: an outside vendor not in, or an inside
		// one not out with no dwell to wait for, is left alone (most tests of a city full of fences).
		const known = inside.has(live.fence.id);
		if (known ? side === "out" || live.rule.dwellMs > 0 : side === "in") steps.push(this.#step(ctx, live, side, p));
	}

	async #step(ctx: Context | null, live: Live, side: Side, p: StoredPosition): Promise<void> {
		const { fence, shape } = live;
		const { fired, inside } = await this.#opts.state.step(fence.id, p.vendorId, side, p.ts, live.rule);
		const stays = this.#inside.get(p.vendorId)?.ids;
		if (inside) stays?.add(fence.id);
		else stays?.delete(fence.id);
		if (!fired) return;
		this.counts.fired[fence.kind]++;
		await this.#opts.fire(ctx, {
			fenceId: fence.id,
			kind: fence.kind,
			userId: fence.userId,
			...(fence.name === undefined ? {} : { name: fence.name }),
			vendorId: p.vendorId,
			transition: fired,
			distance: Math.round(shape!.distance(p.lat, p.lng)),
			position: { lat: p.lat, lng: p.lng, ts: p.ts },
		});
	}

	/**
	 * `vendorIds`, when given, lists the only vendors (none: a favourites alert of a user without
	 * favourites); `categories`, when not empty, wants one of them; both hold when both are given.
	 * A filter with neither matches every vendor.
	 */
	#matches(live: Live, vendorId: string): boolean {
		if (live.vendorIds && !live.vendorIds.has(vendorId)) return false;
		if (!live.categories) return true;
		for (const c of this.#categoriesOf(vendorId)) if (live.categories.has(c)) return true;
		return false;
	}

	/** Looked up once per position; not known yet: fetched in the background, evaluated from the vendor's next position on. */
	#categoriesOf(vendorId: string): readonly string[] {
		if (this.#vendorCategories === NOT_LOOKED_UP) this.#vendorCategories = this.#opts.categories.get(vendorId) ?? NO_IDS;
		return this.#vendorCategories;
	}

	#put(fence: Fence): void {
		const here = fence.roaming && fence.userId ? this.#here.get(fence.userId) : undefined;
		const shape =
			fence.roaming && fence.shape.type === "circle"
				? compileShape({ ...fence.shape, center: here?.at ?? null })
				: compileShape(fence.shape);
		const ids = fence.filter.vendorIds;
		const categories = fence.filter.categories;
		const live: Live = {
			fence,
			shape,
			rule: { on: fence.on, minIntervalMs: fence.minIntervalS * 1000, dwellMs: (fence.dwellS ?? 0) * 1000 },
			vendorIds: ids ? new Set(ids) : null,
			categories: categories && categories.length > 0 ? new Set(categories) : null,
			run: 0,
		};
		const old = this.#fences.get(fence.id);
		if (old) this.#index.delete(old);
		this.#fences.set(fence.id, live);
		if (!shape) return;
		const audience = ids ? { vendors: ids } : live.categories ? { categories: [...live.categories] } : "any";
		this.#index.set(live, shape.bounds, audience);
	}

	#drop(id: string): void {
		const live = this.#fences.get(id);
		if (!live) return;
		this.#index.delete(live);
		this.#fences.delete(id);
		if (live.fence.roaming && live.fence.userId) this.#roaming.get(live.fence.userId)?.delete(id);
	}
}

/** The rule of a fence removed meanwhile: ending its stay fires nothing anyway. */
const OFF_RULE: Rule = { on: [], minIntervalMs: 0, dwellMs: 0 };
