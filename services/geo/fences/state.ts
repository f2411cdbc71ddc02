import type { Transition } from "../../alerts/contract.ts";
import { getOrCreate } from "./index.ts";
import type { Side } from "./shapes.ts";

/** What one position means for one (fence, vendor): a side of the fence, or `off` (the vendor went offline). */
export type Step = Side | "off";

/** The fence's rules a transition is checked with. */
export type Rule = { on: readonly Transition[]; minIntervalMs: number; dwellMs: number };

/**
 * Per (fence, vendor): inside or not, since when, when it last fired, whether this stay already
 * fired its dwell, and the newest position time seen (an older one, evaluated late by another
 * replica, changes nothing).
 */
export type FenceVendorState = { inside: boolean; since: number; lastFire: number | null; dwelled: boolean; seen: number };

export type StepResult = { fired: Transition | null; inside: boolean };

/** Masks for the Redis script (enter 1, exit 2, dwell 4). */
export const TRANSITION_BITS: Record<Transition, number> = { enter: 1, exit: 2, dwell: 4 };
export const ruleMask = (on: readonly Transition[]): number => on.reduce((m, t) => m | TRANSITION_BITS[t], 0);

/**
 * The one transition rule (the Redis script in redis.state.ts is the same, line for line):
 * enter on `in` when outside, exit on `out` when inside, `band` keeps the state (hysteresis),
 * `off` ends a stay silently. Enter and exit fire at most once per `minIntervalMs` per (fence,
 * vendor) between them (a suppressed one still moves the state); dwell fires once per stay, after
 * `dwellMs` inside, whatever the interval (it is no flap: a stay begins only with an entry).
 */
export function step(
	prev: FenceVendorState | undefined,
	side: Step,
	ts: number,
	rule: Rule
): { state: FenceVendorState; fired: Transition | null } {
	const s: FenceVendorState = prev ? { ...prev } : { inside: false, since: 0, lastFire: null, dwelled: false, seen: 0 };
	if (ts < s.seen) return { state: s, fired: null };
	s.seen = ts;
	const canFire = s.lastFire === null || ts - s.lastFire >= rule.minIntervalMs;
	let fired: Transition | null = null;
	if (!s.inside && side === "in") {
		s.inside = true;
		s.since = ts;
		s.dwelled = false;
		if (canFire && rule.on.includes("enter")) fired = "enter";
	} else if (s.inside && (side === "out" || side === "off")) {
		s.inside = false;
		if (side === "out" && canFire && rule.on.includes("exit")) fired = "exit";
	} else if (s.inside && rule.dwellMs > 0 && !s.dwelled && ts - s.since >= rule.dwellMs && rule.on.includes("dwell")) {
		s.dwelled = true;
		fired = "dwell";
	}
	if (fired === "enter" || fired === "exit") s.lastFire = ts;
	return { state: s, fired };
}

/**
 * Where the per (fence, vendor) state lives: this node's memory, or Redis (REDIS_URL) so any geo
 * replica can take over. `step` is atomic per (fence, vendor), so two replicas never both fire.
 */
export interface FenceStateStore {
	/** Whether other geo replicas change this state too (a node then re-reads a vendor's stays now and then). */
	readonly shared: boolean;
	step(fenceId: string, vendorId: string, side: Step, ts: number, rule: Rule): Promise<StepResult>;
	/** The fences the vendor is inside (what a node reads when it first sees the vendor). */
	insideOf(vendorId: string): Promise<string[]>;
	/** Forgets every vendor's state for a removed fence. */
	forget(fenceId: string): Promise<void>;
	close(): Promise<void>;
}

/** State in this node's memory (no REDIS_URL: the one geo node). */
export class MemoryFenceState implements FenceStateStore {
	readonly shared = false;
	readonly #states = new Map<string, Map<string, FenceVendorState>>();
	readonly #inside = new Map<string, Set<string>>();

	step(fenceId: string, vendorId: string, side: Step, ts: number, rule: Rule): Promise<StepResult> {
		const byVendor = getOrCreate(this.#states, fenceId, () => new Map<string, FenceVendorState>());
		const { state, fired } = step(byVendor.get(vendorId), side, ts, rule);
		// A vendor outside whose last fire no longer holds back the next needs no state.
		if (state.inside || (state.lastFire !== null && ts - state.lastFire < rule.minIntervalMs)) byVendor.set(vendorId, state);
		else byVendor.delete(vendorId);
		const inside = this.#inside.get(vendorId);
		if (state.inside) getOrCreate(this.#inside, vendorId, () => new Set<string>()).add(fenceId);
		else if (inside) {
			inside.delete(fenceId);
			if (inside.size === 0) this.#inside.delete(vendorId);
		}
		return Promise.resolve({ fired, inside: state.inside });
	}

	insideOf(vendorId: string): Promise<string[]> {
		return Promise.resolve([...(this.#inside.get(vendorId) ?? [])]);
	}

	forget(fenceId: string): Promise<void> {
		for (const vendorId of this.#states.get(fenceId)?.keys() ?? []) this.#inside.get(vendorId)?.delete(fenceId);
		this.#states.delete(fenceId);
		return Promise.resolve();
	}

	close(): Promise<void> {
		return Promise.resolve();
	}
}
