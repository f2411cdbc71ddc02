import { getHexagonEdgeLengthAvg, gridDisk, latLngToCell } from "h3-js";
import { distanceM, inBBox, type BBox } from "../../lib/geo.ts";
import type { NearbyHit, StoredPosition, VendorLocation } from "./contract.ts";
import type { ApplyResult, GeoStore } from "./store.ts";

type Entry = { position: StoredPosition; online: boolean; seenAt: number; history: StoredPosition[] };

/** Above this many cells, nearby scans the online vendors instead of the cell index. */
const MAX_DISK_CELLS = 4_000;

/** The embedded geo store: everything in this process (single-node mode, no REDIS_URL). */
export class MemoryGeoStore implements GeoStore {
	readonly #vendors = new Map<string, Entry>();
	readonly #cells = new Map<string, Set<string>>();
	/** H3 resolution of the positions' cells (H3_RES). */
	readonly #res: number;

	constructor(res: number) {
		this.#res = res;
	}

	async apply(position: StoredPosition, seenAt: number, historyLength: number): Promise<ApplyResult> {
		return this.#apply(position, seenAt, historyLength);
	}

	async applyMany(positions: StoredPosition[], seenAt: number, historyLength: number): Promise<ApplyResult[]> {
		return positions.map(p => this.#apply(p, seenAt, historyLength));
	}

	#apply(position: StoredPosition, seenAt: number, historyLength: number): ApplyResult {
		const entry = this.#vendors.get(position.vendorId);
		if (!entry) {
			this.#vendors.set(position.vendorId, { position, online: true, seenAt, history: [position].slice(0, historyLength) });
			this.#index(position);
			return { applied: true, previous: null };
		}
		if (position.ts < entry.position.ts) return { applied: false, reason: "stale" };
		const previous = { cell: entry.position.cell, online: entry.online };
		// The hot path (a vendor moving within its cell) updates the entry in place and leaves the cell index alone.
		if (!entry.online || entry.position.cell !== position.cell) {
			if (entry.online) this.#unindex(entry.position);
			this.#index(position);
		}
		entry.position = position;
		entry.online = true;
		entry.seenAt = seenAt;
		entry.history.unshift(position);
		if (entry.history.length > historyLength) entry.history.length = historyLength;
		return { applied: true, previous };
	}

	async get(vendorId: string): Promise<VendorLocation | null> {
		const entry = this.#vendors.get(vendorId);
		return entry ? { ...entry.position, online: entry.online } : null;
	}

	async nearby(lat: number, lng: number, radius: number, limit: number): Promise<NearbyHit[]> {
		// The nearest `limit` so far, sorted: a busy area costs a comparison per vendor, not a full sort.
		const hits: { position: StoredPosition; distance: number }[] = [];
		const consider = (position: StoredPosition) => {
			const distance = distanceM(lat, lng, position.lat, position.lng);
			if (distance > radius || (hits.length === limit && distance >= hits[limit - 1]!.distance)) return;
			let at = hits.length;
			while (at > 0 && hits[at - 1]!.distance > distance) at--;
			hits.splice(at, 0, { position, distance });
			if (hits.length > limit) hits.pop();
		};
		const disk = this.#diskAround(lat, lng, radius);
		if (disk) {
			for (const cell of disk) for (const id of this.#cells.get(cell) ?? []) consider(this.#vendors.get(id)!.position);
		} else {
			for (const entry of this.#vendors.values()) if (entry.online) consider(entry.position);
		}
		return hits.map(h => ({ ...h.position, online: true, distance: h.distance }));
	}

	async inCells(cells: readonly string[]): Promise<StoredPosition[]> {
		const out: StoredPosition[] = [];
		for (const cell of cells) {
			for (const id of this.#cells.get(cell) ?? []) out.push(this.#vendors.get(id)!.position);
		}
		return out;
	}

	async inBBox(bbox: BBox): Promise<StoredPosition[]> {
		const out: StoredPosition[] = [];
		for (const entry of this.#vendors.values()) {
			if (entry.online && inBBox(bbox, entry.position.lat, entry.position.lng)) out.push(entry.position);
		}
		return out;
	}

	async setOffline(vendorId: string, seenAtOrBefore?: number): Promise<StoredPosition | null> {
		const entry = this.#vendors.get(vendorId);
		if (!entry?.online) return null;
		if (seenAtOrBefore !== undefined && entry.seenAt > seenAtOrBefore) return null;
		entry.online = false;
		this.#unindex(entry.position);
		return entry.position;
	}

	async expired(cutoff: number, limit: number): Promise<string[]> {
		const ids: string[] = [];
		for (const [id, entry] of this.#vendors) {
			if (ids.length >= limit) break;
			if (entry.online && entry.seenAt <= cutoff) ids.push(id);
		}
		return ids;
	}

	async history(vendorId: string): Promise<StoredPosition[]> {
		return [...(this.#vendors.get(vendorId)?.history ?? [])];
	}

	async check(): Promise<void> {}

	async close(): Promise<void> {
		this.#vendors.clear();
		this.#cells.clear();
	}

	/**
	 * The cells that can hold a point within `radius` (a grid disk at the index resolution),
	 * or null when scanning every online vendor is cheaper than that many cells.
	 */
	#diskAround(lat: number, lng: number, radius: number): string[] | null {
		const k = Math.ceil(radius / (getHexagonEdgeLengthAvg(this.#res, "m") * Math.sqrt(3))) + 1;
		const cells = 3 * k * (k + 1) + 1;
		if (cells > MAX_DISK_CELLS || cells > this.#vendors.size) return null;
		return gridDisk(latLngToCell(lat, lng, this.#res), k);
	}

	#index(position: StoredPosition): void {
		const members = this.#cells.get(position.cell);
		if (members) members.add(position.vendorId);
		else this.#cells.set(position.cell, new Set([position.vendorId]));
	}

	#unindex(position: StoredPosition): void {
		const members = this.#cells.get(position.cell);
		members?.delete(position.vendorId);
		if (members?.size === 0) this.#cells.delete(position.cell);
	}
}
