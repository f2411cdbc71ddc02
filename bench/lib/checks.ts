/**
 * Completeness: a round's figure counts only when the load it claims arrived. Pure functions,
 * so the tests can show that a short sample fails them.
 */
import type { SnapshotRecord } from "../clients/watchers.ts";
import { pearson } from "./stats.ts";

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

/** One watcher node of the cluster stage over the whole measurement. */
export type NodeRouting = {
	/** Its routing cells over all routing cells with vendors: the share of the routed traffic it should get. */
	watchedShare: number;
	/** Positions sent by the vendors of its routing cells. */
	produced: number;
	/** Updates it received over NATS. */
	routedIn: number;
	/** Per watcher: `pos` frames received, and the positions its routing cell's vendors sent. */
	watchers: readonly { delivered: number; expected: number }[];
};

export type RoutingCheck = {
	nodes: {
		/** routedIn over every position published to a routing subject. */
		share: number;
		watchedShare: number;
		/** share / watchedShare − 1 */
		deviation: number;
		/** routedIn over what its own routing cells produced (1: all of it, and nothing else). */
		routedRatio: number;
		shortWatchers: number;
		overWatchers: number;
	}[];
	maxDeviation: number;
	/** Pearson correlation of routed-in with the watched share, over the nodes. */
	correlation: number;
	/** Every node received what its routing cells produced and no more, every watcher all of its cells' positions. */
	complete: boolean;
};

const withinShortfall = (ratio: number) => ratio >= SHORTFALL && ratio <= 1 / SHORTFALL;

/** Routed-in ∝ watched routing cells: each node's share of `published` (every position routed) against its watched share. */
export function checkRouting(nodes: readonly NodeRouting[], published: number): RoutingCheck {
	const out = nodes.map(n => {
		const share = n.routedIn / published;
		const ratios = n.watchers.map(w => w.delivered / w.expected);
		return {
			share,
			watchedShare: n.watchedShare,
			deviation: share / n.watchedShare - 1,
			routedRatio: n.routedIn / n.produced,
			shortWatchers: ratios.filter(r => !(r >= SHORTFALL)).length,
			overWatchers: ratios.filter(r => r > 1 / SHORTFALL).length,
		};
	});
	return {
		nodes: out,
		maxDeviation: Math.max(...out.map(n => Math.abs(n.deviation))),
		correlation: pearson(
			nodes.map(n => n.watchedShare),
			nodes.map(n => n.routedIn)
		),
		complete:
			nodes.length > 0 &&
			nodes.every(n => n.watchers.length > 0) &&
			out.every(n => withinShortfall(n.routedRatio) && n.shortWatchers === 0 && n.overWatchers === 0),
	};
}
