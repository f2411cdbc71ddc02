import type { BBox } from "../../lib/geo.ts";
import type { NearbyHit, PreviousPlace, StoredPosition, VendorLocation } from "./contract.ts";

export type ApplyResult =
	| { applied: true; previous: PreviousPlace }
	/** Older than the stored position: dropped, nothing changed. */
	| { applied: false; reason: "stale" };

/**
 * The geo store: the embedded (in-process) and the Redis one behave the same; the same test
 * suite runs against both. Every write for one vendor is atomic, so cell transitions and
 * online/offline are decided without races even with several writers.
 */
export interface GeoStore {
	/** Stores the position unless it is older than the stored one; marks the vendor online (seen at `seenAt`). */
	apply(position: StoredPosition, seenAt: number, historyLength: number): Promise<ApplyResult>;
	/** `apply` for each position in order (one round trip / one pass), one result each. */
	applyMany(positions: StoredPosition[], seenAt: number, historyLength: number): Promise<ApplyResult[]>;
	get(vendorId: string): Promise<VendorLocation | null>;
	/** Online vendors within `radius` metres, nearest first, by great-circle distance. */
	nearby(lat: number, lng: number, radius: number, limit: number): Promise<NearbyHit[]>;
	/** Online vendors whose current cell is one of `cells`. */
	inCells(cells: readonly string[]): Promise<StoredPosition[]>;
	/** Online vendors inside the bbox (one that does not cross the antimeridian). */
	inBBox(bbox: BBox): Promise<StoredPosition[]>;
	/**
	 * Takes the vendor offline; only when it was last seen at or before `seenAtOrBefore`, if given.
	 * Returns its last position when this call took it offline, else null.
	 */
	setOffline(vendorId: string, seenAtOrBefore?: number): Promise<StoredPosition | null>;
	/** Online vendors last seen at or before `cutoff` (at most `limit`). */
	expired(cutoff: number, limit: number): Promise<string[]>;
	/** The last positions, newest first. */
	history(vendorId: string): Promise<StoredPosition[]>;
	check(): Promise<void>;
	close(): Promise<void>;
}
