import { latLngToCell } from "h3-js";
import type { Logger, ServiceBroker } from "moleculer";
import type { Config } from "../../config/index.ts";
import type { Position } from "../../lib/position.ts";
import { callWithFailover } from "../../runtime/failover.ts";
import { inSpan } from "../../runtime/tracing.ts";
import {
	GEO_WRITE_TIMEOUT_MS,
	type SetOfflineParams,
	type SetOfflineResult,
	type StoredPosition,
	type UpdateManyItemResult,
} from "../../services/geo/contract.ts";
import type { LiveHub } from "./hub.ts";
import { PositionWriter, WRITE_WINDOW_MS, type WriteOutcome } from "./writer.ts";

/** What this node knows of a vendor whose socket it holds: where it was last streamed, and when. */
type Track = {
	cell: string;
	ts: number;
	/** Whether the store has confirmed where the vendor was before this node streamed it. */
	confirmed: boolean;
};

export type VendorStreamDeps = {
	broker: ServiceBroker;
	config: Config;
	hub: LiveHub;
	logger: Logger;
	tellVendor(vendorId: string, message: string): void;
	/** Where the vendor's accepted position is (every one; its interest follows the cell). */
	vendorAt(vendorId: string, cell: string): void;
};

/**
 * The path of a vendor socket's positions on this node. An accepted position is streamed at once
 * (local watchers and the routing subject), with its cell transition decided from what this node
 * holds of the vendor; the store write follows behind (PositionWriter: group commit, latest wins,
 * kept and retried while geo is away). A slow or lost geo never holds the stream up.
 */
export class VendorStreams {
	readonly #deps: VendorStreamDeps;
	readonly #tracks = new Map<string, Track>();
	readonly #writer: PositionWriter;

	constructor(deps: VendorStreamDeps) {
		this.#deps = deps;
		this.#writer = new PositionWriter({
			// One span per batch (never per position): the group commit and its geo.updateMany call.
			write: batch =>
				inSpan(deps.broker, "live positions write", "live", span => {
					span?.addTags({ positions: batch.length });
					return callWithFailover<UpdateManyItemResult[]>(deps.broker, "geo.updateMany", { positions: batch }, GEO_WRITE_TIMEOUT_MS, span);
				}),
			onOutcome: (vendorId, outcome) => this.#written(vendorId, outcome),
			logger: deps.logger,
			windowMs: WRITE_WINDOW_MS,
		});
	}

	/** Positions accepted and not yet in the store. */
	get unwritten(): number {
		return this.#writer.backlog;
	}

	/**
	 * The positions this node streamed but has not stored yet whose cell is in `cells` (the newest
	 * per vendor): a snapshot adds them to what the store answered.
	 */
	unwrittenIn(cells: ReadonlySet<string>): StoredPosition[] {
		const found = new Map<string, StoredPosition>();
		for (const [vendorId, position] of this.#writer.unwritten()) {
			const known = found.get(vendorId);
			if (cells.has(position.cell) && (!known || known.ts < position.ts)) found.set(vendorId, { vendorId, ...position });
		}
		return [...found.values()];
	}

	/** A checked, rate-allowed position: streamed now, written behind. Older than the last one streamed: dropped. */
	accept(vendorId: string, position: Position): void {
		const { config, hub } = this.#deps;
		const track = this.#tracks.get(vendorId);
		if (track && position.ts < track.ts) {
			hub.countPosition("stale");
			return;
		}
		const cell = latLngToCell(position.lat, position.lng, config.h3Res);
		hub.publish({ vendorId, cell, position, previousCell: track?.cell ?? null });
		hub.countPosition("streamed");
		this.#deps.vendorAt(vendorId, cell);
		if (track) {
			track.cell = cell;
			track.ts = position.ts;
		} else this.#tracks.set(vendorId, { cell, ts: position.ts, confirmed: false });
		this.#writer.enqueue(vendorId, { ...position, cell });
	}

	/**
	 * The vendor's socket closed (and no newer one of it is here): once its positions are written,
	 * geo takes it offline and announces it (`location.vendor_offline` → `gone`).
	 */
	async close(vendorId: string): Promise<void> {
		const { broker, hub, logger } = this.#deps;
		await this.#writer.settled(vendorId);
		if (hub.vendorSockets.has(vendorId)) return;
		this.#tracks.delete(vendorId);
		try {
			await broker.call<SetOfflineResult, SetOfflineParams>("geo.setOffline", { vendorId });
		} catch (err) {
			logger.warn({ err: (err as Error).message, vendorId }, "Could not take a vendor offline; the expiry sweep will");
		}
	}

	/**
	 * What the store made of a written position. The first one of a socket tells where the vendor
	 * was before (e.g. on another node): watchers of that cell get `gone` now. An invalid one is
	 * told to the vendor.
	 */
	#written(vendorId: string, outcome: WriteOutcome): void {
		if (outcome.kind === "invalid") {
			this.#deps.tellVendor(vendorId, outcome.message);
			return;
		}
		const track = this.#tracks.get(vendorId);
		if (outcome.kind !== "stored" || !track || track.confirmed) return;
		track.confirmed = true;
		const { cell, previousCell } = outcome.change;
		if (previousCell && previousCell !== cell && previousCell !== track.cell) this.#deps.hub.publish({ vendorId, cell: previousCell });
	}
}
