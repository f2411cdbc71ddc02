/**
 * Runs tasks one after another per key (e.g. per vendor) within this process; different keys
 * run concurrently. Cross-node safety comes from the store (compare-and-set), this only avoids
 * needless retries between local callers.
 */
export class KeyedQueue {
	#tails = new Map<string, Promise<unknown>>();

	run<T>(key: string, task: () => Promise<T>): Promise<T> {
		const previous = this.#tails.get(key) ?? Promise.resolve();
		const result = previous.then(task, task);
		const tail = result.catch(() => undefined);
		this.#tails.set(key, tail);
		void tail.then(() => {
			if (this.#tails.get(key) === tail) this.#tails.delete(key);
		});
		return result;
	}
}
