/**
 * A small typed event emitter. Browsers and Node share EventTarget, but its events are untyped
 * and carry a wrapper; listeners here get the value itself, and `on` returns its own undo.
 */
export type Listener<T> = (value: T) => void;

export class Emitter<Events extends object> {
	#listeners = new Map<keyof Events, Set<Listener<never>>>();

	/** Calls `listener` for every `event`; returns a function that removes it. */
	on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
		const set = this.#listeners.get(event) ?? new Set();
		this.#listeners.set(event, set);
		set.add(listener as Listener<never>);
		return () => void set.delete(listener as Listener<never>);
	}

	protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
		for (const listener of this.#listeners.get(event) ?? []) {
			try {
				(listener as Listener<Events[K]>)(value);
			} catch (err) {
				// One failing listener neither stops the others nor the client: it is reported as uncaught.
				queueMicrotask(() => {
					throw err;
				});
			}
		}
	}
}
