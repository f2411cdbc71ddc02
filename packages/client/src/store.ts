import type { GoneFrame, PositionFrame, SnapshotFrame, VendorPositionView } from "./protocol/frames.ts";
import { Emitter } from "./emitter.ts";
import type { LiveEvents } from "./live/client.ts";

/** A vendor as the store holds it: the wire shape of `pos` (accuracy is never sent to watchers). */
export type VendorInView = VendorPositionView;

export type VendorsInViewEvents = {
	/** A vendor came into view. */
	add: VendorInView;
	/** A vendor in view has a newer position. */
	move: VendorInView;
	/** A vendor left the view (its last position). */
	remove: VendorInView;
};

/** What the store listens to: a LiveClient, or anything with the same events. */
type FrameSource = { on<K extends keyof LiveEvents>(event: K, listener: (value: LiveEvents[K]) => void): () => void };

/**
 * The vendors in view, latest wins by `ts` per vendor: a snapshot says exactly who is in view
 * (the others are removed), `pos` adds or moves, `gone` removes. A map binds to add/move/remove.
 */
export class VendorsInView extends Emitter<VendorsInViewEvents> {
	#vendors = new Map<string, VendorInView>();
	/**
	 * Vendors streamed since the latest watch frame went out: updates flow from the moment a watch
	 * is applied, and a snapshot read just before a vendor's first write may not list it yet.
	 */
	#sinceWatch = new Set<string>();
	/** The `ts` of vendors removed by `gone`, so a late older `pos` does not bring one back. */
	#goneAt = new Map<string, number>();

	constructor(source?: FrameSource) {
		super();
		if (source) this.bind(source);
	}

	/** Follows a live client's frames; returns the function that stops following. */
	bind(source: FrameSource): () => void {
		const undo = [
			source.on("snapshot", frame => this.applySnapshot(frame)),
			source.on("pos", frame => this.applyPosition(frame)),
			source.on("gone", frame => this.applyGone(frame)),
			source.on("watch", () => this.#sinceWatch.clear()),
		];
		return () => {
			for (const stop of undo) stop();
		};
	}

	get size(): number {
		return this.#vendors.size;
	}

	get(id: string): VendorInView | undefined {
		return this.#vendors.get(id);
	}

	values(): IterableIterator<VendorInView> {
		return this.#vendors.values();
	}

	applySnapshot({ cells, vendors }: Pick<SnapshotFrame, "cells" | "vendors">): void {
		const listed = new Set(vendors.map(v => v.id));
		const watched = new Set(cells);
		for (const v of [...this.#vendors.values()]) {
			const streamedIn = this.#sinceWatch.has(v.id) && watched.has(v.cell);
			if (!listed.has(v.id) && !streamedIn) this.#remove(v);
		}
		this.#goneAt.clear();
		for (const v of vendors) this.#upsert(v);
	}

	applyPosition(frame: PositionFrame | VendorInView): void {
		const { op: _op, ...vendor } = frame as PositionFrame;
		if ((this.#goneAt.get(vendor.id) ?? -1) >= vendor.ts) return;
		this.#sinceWatch.add(vendor.id);
		this.#upsert(vendor);
	}

	/** The vendor left `cell` or went offline; a `gone` for a cell it already left is old news. */
	applyGone({ id, cell }: Pick<GoneFrame, "id" | "cell">): void {
		const v = this.#vendors.get(id);
		if (!v || v.cell !== cell) return;
		this.#goneAt.set(id, v.ts);
		this.#remove(v);
	}

	/** Empties the view (each vendor is reported removed). */
	clear(): void {
		for (const v of [...this.#vendors.values()]) this.#remove(v);
	}

	#upsert(vendor: VendorInView): void {
		const current = this.#vendors.get(vendor.id);
		if (current && current.ts >= vendor.ts) return;
		this.#vendors.set(vendor.id, vendor);
		this.emit(current ? "move" : "add", vendor);
	}

	#remove(vendor: VendorInView): void {
		this.#vendors.delete(vendor.id);
		this.#sinceWatch.delete(vendor.id);
		this.emit("remove", vendor);
	}
}
