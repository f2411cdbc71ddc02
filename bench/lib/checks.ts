/**
 * Completeness: a round's figure counts only when the load it claims arrived. Pure functions,
 * so the tests can show that a short sample fails them.
 */
import type { SnapshotRecord } from "../clients/watchers.ts";

/** Deliveries below this share of what should have arrived mark a figure SHORT. */
export const SHORTFALL = 0.99;

export type DeliveryTotal = { delivered: number; expected: number; ratio: number };

/** Deliveries over all rounds against what the sent positions should have fanned out to. */
export function deliveryTotal(rounds: readonly { delivered: number; expected: number }[]): DeliveryTotal {
	const delivered = rounds.reduce((a, r) => a + r.delivered, 0);
	const expected = rounds.reduce((a, r) => a + r.expected, 0);
	return { delivered, expected, ratio: delivered / expected };
}

/** Too little arrived (nothing expected counts as short too: the round measured nothing). */
export const isShort = (total: { ratio: number }): boolean => !(total.ratio >= SHORTFALL);

export type SnapshotCheck = {
	watchers: number;
	/** Watchers that got a snapshot. */
	snapshots: number;
	/** Snapshots holding exactly the vendors expected in their box. */
	exact: number;
	missingVendors: number;
	unexpectedVendors: number;
	complete: boolean;
};

/** Every watcher got its snapshot, and each snapshot holds exactly the vendors expected for its watch. */
export function checkSnapshots(expected: readonly (readonly string[])[], got: readonly SnapshotRecord[]): SnapshotCheck {
	const check = { watchers: expected.length, snapshots: 0, exact: 0, missingVendors: 0, unexpectedVendors: 0 };
	expected.forEach((ids, i) => {
		const vendorIds = got[i]?.vendorIds;
		if (!vendorIds) {
			check.missingVendors += ids.length;
			return;
		}
		check.snapshots++;
		const want = new Set(ids);
		const have = new Set(vendorIds);
		const missing = ids.filter(id => !have.has(id)).length;
		const unexpected = [...have].filter(id => !want.has(id)).length;
		check.missingVendors += missing;
		check.unexpectedVendors += unexpected;
		if (missing === 0 && unexpected === 0) check.exact++;
	});
	return { ...check, complete: got.length === expected.length && check.exact === expected.length };
}
