import type { ServiceBroker, Span } from "moleculer";
import type { InCellsParams, StoredPosition } from "../../services/geo/contract.ts";

type Waiting = {
	cells: readonly string[];
	/** The watch's span (tracing on). */
	span: Span | undefined;
	resolve(vendors: StoredPosition[]): void;
	reject(err: unknown): void;
};

/**
 * Snapshot reads for watches: the reads asked for in one event-loop turn go to geo as ONE
 * `geo.inCells` call over the union of their cells, and each watch gets the vendors of its own
 * cells from it. Hundreds of customers opening the app at once then cost a handful of calls, and
 * watchers of the same cells share the read. Traced, the call's span is a child of the first
 * watch of the batch; the others name that watch's trace in their `snapshotTrace` tag.
 */
export class SnapshotReader {
	readonly #broker: ServiceBroker;
	#waiting: Waiting[] = [];

	constructor(broker: ServiceBroker) {
		this.#broker = broker;
	}

	/** The online vendors in `cells` (a rejection when geo cannot answer). */
	read(cells: readonly string[], span?: Span): Promise<StoredPosition[]> {
		if (cells.length === 0) return Promise.resolve([]);
		return new Promise((resolve, reject) => {
			if (this.#waiting.push({ cells, span, resolve, reject }) === 1) setImmediate(() => void this.#flush());
		});
	}

	async #flush(): Promise<void> {
		const batch = this.#waiting;
		this.#waiting = [];
		const union = new Set<string>();
		for (const { cells } of batch) for (const cell of cells) union.add(cell);
		const parentSpan = batch[0]!.span;
		if (parentSpan) for (const { span } of batch.slice(1)) span?.addTags({ snapshotTrace: parentSpan.traceID });
		let vendors: StoredPosition[];
		try {
			vendors = await this.#broker.call<StoredPosition[], InCellsParams>("geo.inCells", { cells: [...union] }, { parentSpan });
		} catch (err) {
			for (const w of batch) w.reject(err);
			return;
		}
		const byCell = new Map<string, StoredPosition[]>();
		for (const v of vendors) {
			const list = byCell.get(v.cell);
			if (list) list.push(v);
			else byCell.set(v.cell, [v]);
		}
		for (const w of batch) w.resolve(w.cells.flatMap(cell => byCell.get(cell) ?? []));
	}
}
