import type { Context } from "moleculer";
import type { LatLng } from "../../../lib/geo.ts";
import { HERE_TTL_S, type AlertFired, type Fence, type FencesChanged, type HereUpdate } from "../../alerts/contract.ts";
import type { StoredPosition } from "../contract.ts";
import type { VendorCategories } from "./categories.ts";
import { FenceIndex, getOrCreate } from "./index.ts";
import { compileShape, type CompiledShape } from "./shapes.ts";
import type { FenceStateStore, Rule } from "./state.ts";

/** A fence with what evaluating it needs, computed once when it is loaded or re-centered. */
type Live = { fence: Fence; shape: CompiledShape | null; rule: Rule; vendorIds: ReadonlySet<string> | null };

export type EvaluatorCounts = { evaluated: number; fired: Record<Fence["kind"], number> };

export type FenceEvaluatorOptions = {
	state: FenceStateStore;
	categories: VendorCategories;
	/** H3_RES: the resolution of the positions' cells. */
	positionRes: number;
	fire(ctx: Context | null, fired: AlertFired): Promise<void>;
};

const NO_FENCES: readonly string[] = [];

/**
 * Tests accepted positions against the fences of their cell and the fences the vendor is inside,
 * and fires enter/exit/dwell through the state store (hysteresis, minimum interval, dwell).
 * Roaming circles follow their owner's shared position and are indexed only while it is fresh.
 */
export class FenceEvaluator {
	readonly #opts: FenceEvaluatorOptions;
	readonly #fences = new Map<string, Live>();
	readonly #index: FenceIndex<Live>;
	/** Per vendor, the fences it is inside as this node last saw (a vendor not here yet is asked of the state store once). */
	readonly #inside = new Map<string, Set<string>>();
	/** Roaming fences by owner, and the owners' shared positions with when they arrived. */
	readonly #roaming = new Map<string, Set<string>>();
	readonly #here = new Map<string, { at: LatLng; receivedAt: number }>();
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

	/** Replaces every fence (a load of alerts.fences). */
	load(fences: readonly Fence[]): void {
		this.#fences.clear();
		this.#index.clear();
		this.#roaming.clear();
		this.apply({ upsert: [...fences], remove: [] });
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

	/** Tests an accepted position; resolves when its transitions have fired. */
	evaluate(ctx: Context | null, p: StoredPosition): Promise<void> | undefined {
		if (this.#fences.size === 0) return undefined;
		const inCell = this.#index.candidates(p.cell);
		const inside = this.#inside.get(p.vendorId);
		if (inside === undefined) return this.#loadInside(p.vendorId).then(() => this.evaluate(ctx, p));
		if (!inCell && inside.size === 0) return undefined;
		const tests: Promise<void>[] = [];
		for (const live of inCell ?? []) tests.push(this.#test(ctx, live, p));
		for (const id of inside) {
			const live = this.#fences.get(id);
			if (live && !inCell?.has(live)) tests.push(this.#test(ctx, live, p));
		}
		return Promise.all(tests).then(() => undefined);
	}

	/** The vendor went offline: its stays end without an exit (it did not drive out; we stopped knowing where it is). */
	async offline(vendorId: string, ts: number): Promise<void> {
		const inside = this.#inside.get(vendorId) ?? new Set(await this.#opts.state.insideOf(vendorId));
		this.#inside.delete(vendorId);
		await Promise.all([...inside].map(id => this.#opts.state.step(id, vendorId, "off", ts, this.#fences.get(id)?.rule ?? OFF_RULE)));
	}

	close(): Promise<void> {
		return this.#opts.state.close();
	}

	async #loadInside(vendorId: string): Promise<void> {
		const ids = await this.#opts.state.insideOf(vendorId);
		if (!this.#inside.has(vendorId)) this.#inside.set(vendorId, new Set(ids));
	}

	async #test(ctx: Context | null, live: Live, p: StoredPosition): Promise<void> {
		const { fence, shape } = live;
		if (!shape || !this.#matches(live, p.vendorId)) return;
		this.counts.evaluated++;
		const side = shape.observe(p.lat, p.lng);
		const { fired, inside } = await this.#opts.state.step(fence.id, p.vendorId, side, p.ts, live.rule);
		const stays = this.#inside.get(p.vendorId);
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
			distance: Math.round(shape.distance(p.lat, p.lng)),
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
		const wanted = live.fence.filter.categories ?? NO_FENCES;
		if (wanted.length === 0) return true;
		// Not known yet: fetched in the background, evaluated from the vendor's next position on.
		const categories = this.#opts.categories.get(vendorId);
		return categories !== undefined && wanted.some(c => categories.includes(c));
	}

	#put(fence: Fence): void {
		const here = fence.roaming && fence.userId ? this.#here.get(fence.userId) : undefined;
		const shape =
			fence.roaming && fence.shape.type === "circle"
				? compileShape({ ...fence.shape, center: here?.at ?? null })
				: compileShape(fence.shape);
		const ids = fence.filter.vendorIds;
		const live: Live = {
			fence,
			shape,
			rule: { on: fence.on, minIntervalMs: fence.minIntervalS * 1000, dwellMs: (fence.dwellS ?? 0) * 1000 },
			vendorIds: ids ? new Set(ids) : null,
		};
		const old = this.#fences.get(fence.id);
		if (old) this.#index.delete(old);
		this.#fences.set(fence.id, live);
		if (shape) this.#index.set(live, shape.bounds);
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
