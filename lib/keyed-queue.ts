/**
 * Runs tasks one after another per key (e.g. per vendor) within this process; different keys
 * run concurrently. Cross-node safety comes from the store (compare-and-set, atomic scripts);
 * this only keeps local writers of one key in arrival order.
 */
export class KeyedQueue {
	readonly #tails = new Map<string, Promise<unknown>>();

	/** Whether a task for `key` is waiting or running. */
	busy(key: string): boolean {
		return this.#tails.has(key);
	}

	/** Runs `task` after the tasks already queued for `key`. */
	run<T>(key: string, task: () => Promise<T>): Promise<T> {
		const result = (this.#tails.get(key) ?? Promise.resolve()).then(task, task);
		this.#hold([key], result);
		return result;
	}

	/**
	 * Runs one `task` for several idle keys at once (a batch): later tasks of those keys wait for it.
	 * The caller checks `busy` first; a busy key would not wait here.
	 */
	runNow<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
		const result = task();
		this.#hold(keys, result);
		return result;
	}

	#hold(keys: readonly string[], result: Promise<unknown>): void {
		const tail = result.then(
			() => undefined,
			() => undefined
		);
		for (const key of keys) this.#tails.set(key, tail);
		void tail.then(() => {
			for (const key of keys) if (this.#tails.get(key) === tail) this.#tails.delete(key);
		});
	}
}
