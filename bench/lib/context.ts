/** What every stage of one bench run shares: its pace, where it logs, where remarks and failures go. */
export type BenchContext = {
	quick: boolean;
	/** Every engine started writes a `--cpu-prof` profile to bench/profiles/. */
	profile: boolean;
	/** Measured rounds per figure, each `windowMs` long, after `warmMs` of the same load unmeasured. */
	rounds: number;
	windowMs: number;
	warmMs: number;
	/** Watchers parse every n-th `pos` frame for latency. */
	latencySampleEvery: number;
	log(stage: string, message: string): void;
	/** A remark printed under the table and kept in results.json. */
	note(message: string): void;
	/** Runs one step; a failure is recorded under `name` and the run goes on. */
	attempt(name: string, fn: () => Promise<void>): Promise<void>;
};

/** A round cannot count (sockets missing, snapshots short): the message says what. */
export class StageError extends Error {}

/** Load generators connect from these loopback addresses in turn (many sockets, few ports per address). */
export const LOCAL_ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];
