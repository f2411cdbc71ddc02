import { distanceM } from "../../lib/position.ts";
import type { BBox } from "../../lib/h3-cells.ts";
import { inBox, type ApplyResult, type GeoStore, type NearbyHit, type StoredPosition, type VendorLocation } from "./store.ts";

type Entry = { position: StoredPosition; online: boolean; seenAt: number; history: StoredPosition[] };

/** The embedded geo store: everything in this process (single-node mode, no REDIS_URL). */
export class MemoryGeoStore implements GeoStore {
	readonly #vendors = new Map<string, Entry>();
	readonly #cells = new Map<string, Set<string>>();

	async apply(position: StoredPosition, seenAt: number, historyLength: number): Promise<ApplyResult> {
		const entry = this.#vendors.get(position.vendorId);
		if (entry && position.ts < entry.position.ts) return { applied: false, reason: "stale" };
		const previous = entry ? { cell: entry.position.cell, online: entry.online } : null;
		if (entry?.online) this.#unindex(entry.position);
		const history = entry?.history ?? [];
		history.unshift(position);
		history.length = Math.min(history.length, historyLength);
		this.#vendors.set(position.vendorId, { position, online: true, seenAt, history });
		let members = this.#cells.get(position.cell);
		if (!members) this.#cells.set(position.cell, (members = new Set()));
		members.add(position.vendorId);
		return { applied: true, previous };
	}

	async get(vendorId: string): Promise<VendorLocation | null> {
		const entry = this.#vendors.get(vendorId);
		return entry ? { ...entry.position, online: entry.online } : null;
	}

	async getMany(vendorIds: string[]): Promise<(VendorLocation | null)[]> {
		return Promise.all(vendorIds.map(id => this.get(id)));
	}

	async nearby(lat: number, lng: number, radius: number, limit: number): Promise<NearbyHit[]> {
		const hits: NearbyHit[] = [];
		for (const entry of this.#vendors.values()) {
			if (!entry.online) continue;
			const distance = distanceM(lat, lng, entry.position.lat, entry.position.lng);
			if (distance <= radius) hits.push({ ...entry.position, online: true, distance });
		}
		return hits.sort((a, b) => a.distance - b.distance).slice(0, limit);
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
			if (entry.online && inBox(bbox, entry.position.lat, entry.position.lng)) out.push(entry.position);
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

	async onlineCount(): Promise<number> {
		let n = 0;
		for (const entry of this.#vendors.values()) if (entry.online) n++;
		return n;
	}

	async check(): Promise<void> {}

	async close(): Promise<void> {
		this.#vendors.clear();
		this.#cells.clear();
	}

	#unindex(position: StoredPosition): void {
		const members = this.#cells.get(position.cell);
		members?.delete(position.vendorId);
		if (members?.size === 0) this.#cells.delete(position.cell);
	}
}
