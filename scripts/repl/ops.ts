import { userInfo } from "node:os";
import { cellToBoundary, cellToParent, getResolution, isValidCell, latLngToCell } from "h3-js";
import type { ServiceBroker } from "moleculer";
import { isValidBBox, type BBox } from "../../gateways/live/cells.ts";
import type { Caller } from "../../middlewares/authorization.middleware.ts";
import type { Vendor } from "../../services/vendors/model.ts";
import type { HeatmapResult } from "../../services/geo/geo.service.ts";
import type { StoredPosition, VendorLocation } from "../../services/geo/store.ts";
import type { NearbyVendor } from "../../services/discovery/discovery.service.ts";
import type { InboxEntry, InboxParams, WebhookSource } from "../../services/webhooks/webhooks.service.ts";
import type { User } from "../../services/users/users.service.ts";

/**
 * Operations on a running cluster, as plain rows: what the REPL prints and what tests assert.
 * Every figure comes from an action of the service that owns it (live nodes report their own
 * sockets and counters); nothing here reads another node's memory.
 */

export const WORLD: BBox = [-180, -90, 180, 90];
/** Calls from the REPL fail fast instead of retrying for a minute against a dead node. */
const CALL = { timeout: 10_000, retries: 0 } as const;

export class OpsError extends Error {
	override name = "OpsError";
}

/** The admin identity the REPL operator acts as (audited in the events the services emit). */
export function operatorIdentity(user = userInfo().username): Caller {
	return { id: `repl:${user}`, role: "admin" };
}

// ---------------------------------------------------------------- live gateway nodes

/** What `live.stats` answers on one node. */
export type LiveStats = {
	node: string;
	sockets: number;
	watchers: number;
	vendors: number;
	slowSockets: number;
	watchedCells: number;
	routingSubjects: number | string[];
	counters: { positionsIn: number; positionsDropped: number; routedIn: number; deliveries: number };
	watchSets?: SocketView[];
	cellWatchers?: { cell: string; watchers: number }[];
};
export type SocketView = { connId: number; user: string | null; vendorId: string | null; cells: number; buffered?: number; behind?: number; slow?: boolean };
export type LiveSample = { node: string; at: number; stats: LiveStats | null; error?: string };

/** Nodes that run the live gateway now, sorted. */
export function liveNodes(broker: ServiceBroker): string[] {
	const services = broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true }) as { name: string; nodeID: string }[];
	return [...new Set(services.filter(s => s.name === "live").map(s => s.nodeID))].sort();
}

/** Asks every live node for its own stats; `at` is the midpoint of the round trip. */
export async function sampleLive(broker: ServiceBroker, params: { sockets?: boolean; cells?: boolean } = {}): Promise<LiveSample[]> {
	return Promise.all(
		liveNodes(broker).map(async node => {
			const sent = Date.now();
			try {
				const stats = await broker.call<LiveStats, object>("live.stats", params, { ...CALL, nodeID: node });
				return { node, at: (sent + Date.now()) / 2, stats };
			} catch (err) {
				return { node, at: Date.now(), stats: null, error: (err as Error).message };
			}
		})
	);
}

export type SocketsRow = {
	node: string;
	sockets: number;
	watchers: number;
	vendors: number;
	watchedCells: number;
	/** Watchers behind on their frames (fed latest-wins until they catch up). */
	slow: number;
	inPerS: number;
	deliveriesPerS: number;
	droppedPerS: number;
	routedInPerS: number;
	/** Counter totals since the node started. */
	positionsIn: number;
	deliveries: number;
	dropped: number;
	routedIn: number;
	/** What each rate was computed from: counter deltas over `windowS`. */
	delta: { positionsIn: number; deliveries: number; dropped: number; routedIn: number };
	windowS: number;
	error?: string;
};

const perSecond = (delta: number, seconds: number) => (seconds > 0 ? Math.round((delta / seconds) * 10) / 10 : 0);

/** Rates per node from two samples of the nodes' own counters. */
export function liveRates(before: LiveSample[], after: LiveSample[]): SocketsRow[] {
	const earlier = new Map(before.map(s => [s.node, s]));
	return after.map(next => {
		const prev = earlier.get(next.node);
		const s = next.stats;
		const c = s?.counters ?? { positionsIn: 0, positionsDropped: 0, routedIn: 0, deliveries: 0 };
		const p = prev?.stats?.counters ?? c;
		const windowS = prev?.stats ? Math.max(0, (next.at - prev.at) / 1000) : 0;
		const delta = {
			positionsIn: c.positionsIn - p.positionsIn,
			deliveries: c.deliveries - p.deliveries,
			dropped: c.positionsDropped - p.positionsDropped,
			routedIn: c.routedIn - p.routedIn,
		};
		return {
			node: next.node,
			sockets: s?.sockets ?? 0,
			watchers: s?.watchers ?? 0,
			vendors: s?.vendors ?? 0,
			watchedCells: s?.watchedCells ?? 0,
			slow: s?.slowSockets ?? 0,
			inPerS: perSecond(delta.positionsIn, windowS),
			deliveriesPerS: perSecond(delta.deliveries, windowS),
			droppedPerS: perSecond(delta.dropped, windowS),
			routedInPerS: perSecond(delta.routedIn, windowS),
			positionsIn: c.positionsIn,
			deliveries: c.deliveries,
			dropped: c.positionsDropped,
			routedIn: c.routedIn,
			delta,
			windowS: Math.round(windowS * 100) / 100,
			...(next.error ? { error: next.error } : {}),
		};
	});
}

/** `sockets`: every live node's sockets and watch sets, and rates over `windowMs`. */
export async function socketsReport(broker: ServiceBroker, { windowMs = 1_000 } = {}): Promise<SocketsRow[]> {
	const before = await sampleLive(broker);
	await new Promise(r => setTimeout(r, windowMs));
	return liveRates(before, await sampleLive(broker));
}

/** `sockets --node`: one live node's sockets and the size of each one's watch set. */
export async function socketList(broker: ServiceBroker, node: string): Promise<SocketView[]> {
	if (!liveNodes(broker).includes(node)) throw new OpsError(`"${node}" is not a live gateway node (live nodes: ${liveNodes(broker).join(", ") || "none"})`);
	const stats = await broker.call<LiveStats, object>("live.stats", { sockets: true }, { ...CALL, nodeID: node });
	return (stats.watchSets ?? []).sort((a, b) => a.connId - b.connId);
}

// ---------------------------------------------------------------- who is where

export type OnlineFilter = { cell?: string; bbox?: BBox };
export type OnlineRow = { vendorId: string; name: string; status: string; lat: number; lng: number; cell: string; ageS: number; ts: string };

/** Parses `w,s,e,n` (degrees, w < e, s < n): the filter below does not cross the antimeridian. */
export function parseBBox(text: string): BBox {
	const parts = text.split(",").map(v => (v.trim() === "" ? NaN : Number(v)));
	if (!isValidBBox(parts) || parts[0] >= parts[2]) throw new OpsError(`bbox must be w,s,e,n in degrees with w < e and s < n, got "${text}"`);
	return parts;
}

export function checkCell(cell: string): string {
	if (!isValidCell(cell)) throw new OpsError(`"${cell}" is not an H3 cell id`);
	return cell;
}

/**
 * A box around an H3 cell (any resolution), padded: the finer cells that belong to a coarse one
 * stick out of its hexagon a little.
 */
function cellBBox(cell: string): BBox {
	const ring = cellToBoundary(cell);
	const lats = ring.map(([lat]) => lat);
	const lngs = ring.map(([, lng]) => lng);
	const [w, e, s, n] = [Math.min(...lngs), Math.max(...lngs), Math.min(...lats), Math.max(...lats)];
	const padLat = (n - s) * 0.2;
	const padLng = (e - w) * 0.2;
	const south = Math.max(-90, s - padLat), north = Math.min(90, n + padLat);
	// A cell across the antimeridian: its box is the whole band.
	return e - w > 180 ? [-180, south, 180, north] : [Math.max(-180, w - padLng), south, Math.min(180, e + padLng), north];
}

/** Is the position in `cell`? By H3's hierarchy when the cell is as coarse as the stored one, else by point. */
function inCell(p: StoredPosition, cell: string): boolean {
	const res = getResolution(cell);
	return res <= getResolution(p.cell) ? cellToParent(p.cell, res) === cell : latLngToCell(p.lat, p.lng, res) === cell;
}

/** Online vendors inside a box: geo names the cells they are in, then returns the positions in those cells. */
async function positionsIn(broker: ServiceBroker, bbox: BBox): Promise<StoredPosition[]> {
	const heat = await broker.call<HeatmapResult, object>("geo.heatmap", { bbox }, CALL);
	const cells = heat.cells.map(c => c.cell);
	if (cells.length === 0) return [];
	const positions = await broker.call<StoredPosition[], object>("geo.inCells", { cells }, CALL);
	const [w, s, e, n] = bbox;
	const unique = new Map(positions.filter(p => p.lng >= w && p.lng <= e && p.lat >= s && p.lat <= n).map(p => [p.vendorId, p]));
	return [...unique.values()];
}

async function vendorsById(broker: ServiceBroker, ids: string[]): Promise<Map<string, Vendor>> {
	if (ids.length === 0) return new Map();
	const vendors = await broker.call<Vendor[], object>("vendors.getMany", { ids }, CALL);
	return new Map(vendors.map(v => [v.id, v]));
}

const ageSeconds = (ts: number, now: number) => Math.max(0, Math.round((now - ts) / 100) / 10);

/** `online`: vendors online now (everywhere, in an H3 cell of any resolution, or in a box), freshest first. */
export async function onlineVendors(broker: ServiceBroker, filter: OnlineFilter = {}): Promise<OnlineRow[]> {
	const cell = filter.cell === undefined ? undefined : checkCell(filter.cell);
	const bbox = filter.bbox ?? (cell ? cellBBox(cell) : WORLD);
	let positions = await positionsIn(broker, bbox);
	if (cell) positions = positions.filter(p => inCell(p, cell));
	const vendors = await vendorsById(broker, positions.map(p => p.vendorId));
	const now = Date.now();
	return positions
		.map(p => ({
			vendorId: p.vendorId,
			name: vendors.get(p.vendorId)?.name ?? "?",
			status: vendors.get(p.vendorId)?.status ?? "?",
			lat: p.lat,
			lng: p.lng,
			cell: p.cell,
			ageS: ageSeconds(p.ts, now),
			ts: new Date(p.ts).toISOString(),
		}))
		.sort((a, b) => a.ageS - b.ageS || a.vendorId.localeCompare(b.vendorId));
}

export type NearRow = { vendorId: string; name: string; distanceM: number; online: boolean; lat: number; lng: number; ageS: number | null; categories: string };

/** `near`: what a customer at that point sees (discovery's answer, nearest first). */
export async function nearby(broker: ServiceBroker, { lat, lng, radius = 1_000, limit = 50 }: { lat: number; lng: number; radius?: number; limit?: number }): Promise<NearRow[]> {
	const answer = await broker.call<{ rows: NearbyVendor[] }, object>("discovery.nearby", { lat, lng, radius, limit }, CALL);
	const now = Date.now();
	return answer.rows.map(v => ({
		vendorId: v.id,
		name: v.name,
		distanceM: v.distance,
		online: v.online,
		lat: v.position.lat,
		lng: v.position.lng,
		ageS: v.online && typeof v.position.ts === "number" ? ageSeconds(v.position.ts, now) : null,
		categories: v.categories.join(","),
	}));
}

export type CellRow = { cell: string; vendors: number; watchers: number };

/** `cells`: busiest H3 cells by live vendors and by watchers (as each live node counts them). */
export async function busiestCells(broker: ServiceBroker, { top = 10 } = {}): Promise<CellRow[]> {
	const [positions, samples] = await Promise.all([positionsIn(broker, WORLD), sampleLive(broker, { cells: true })]);
	const rows = new Map<string, CellRow>();
	const row = (cell: string) => rows.get(cell) ?? rows.set(cell, { cell, vendors: 0, watchers: 0 }).get(cell)!;
	for (const p of positions) row(p.cell).vendors++;
	for (const sample of samples) for (const { cell, watchers } of sample.stats?.cellWatchers ?? []) row(cell).watchers += watchers;
	return [...rows.values()].sort((a, b) => b.vendors - a.vendors || b.watchers - a.watchers || a.cell.localeCompare(b.cell)).slice(0, top);
}

// ---------------------------------------------------------------- one vendor

export type VendorReport = {
	vendor: Vendor;
	owner: Pick<User, "id" | "email" | "firstName" | "lastName" | "role"> | null;
	location: (VendorLocation & { ageS: number }) | null;
	history: (StoredPosition & { ageS: number; time: string })[];
	/** Live nodes holding a socket of this vendor right now. */
	socketNodes: string[];
};

/** `vendor <id>`: profile, status, subscription, live position and history. */
export async function vendorReport(broker: ServiceBroker, id: string): Promise<VendorReport> {
	const vendor = await broker.call<Vendor, object>("vendors.get", { id }, { ...CALL, meta: { $cache: false } });
	const [owner, location, history, samples] = await Promise.all([
		vendor.ownerId ? broker.call<User, object>("users.get", { id: vendor.ownerId }, CALL).catch(() => null) : null,
		broker.call<VendorLocation | null, object>("geo.get", { vendorId: id }, CALL),
		broker.call<StoredPosition[], object>("geo.history", { vendorId: id }, CALL),
		sampleLive(broker, { sockets: true }),
	]);
	const now = Date.now();
	return {
		vendor,
		owner: owner && { id: owner.id, email: owner.email, firstName: owner.firstName, lastName: owner.lastName, role: owner.role },
		location: location && { ...location, ageS: ageSeconds(location.ts, now) },
		history: history.map(p => ({ ...p, ageS: ageSeconds(p.ts, now), time: new Date(p.ts).toISOString() })),
		socketNodes: socketNodesOf(samples, id),
	};
}

function socketNodesOf(samples: LiveSample[], vendorId: string): string[] {
	return samples.filter(s => s.stats?.watchSets?.some(w => w.vendorId === vendorId)).map(s => s.node);
}

export type StatusChange = { vendorId: string; name: string; previous: string; status: string; by: string; at: string };

/** `vendor suspend|resume`: the vendors service changes the status as the operator (an admin) and emits the event. */
export async function setVendorStatus(broker: ServiceBroker, id: string, status: "suspended" | "active", operator: Caller): Promise<StatusChange> {
	const before = await broker.call<Vendor, object>("vendors.get", { id }, { ...CALL, meta: { $cache: false } });
	const after = await broker.call<Vendor, object>("vendors.setStatus", { id, status }, { ...CALL, meta: { user: operator } });
	return { vendorId: id, name: after.name, previous: before.status, status: after.status, by: operator.id, at: after.updatedAt };
}

// ---------------------------------------------------------------- webhooks inbox

export type InboxRow = { id: string; source: WebhookSource; type: string; status: string; attempts: number; receivedAt: string; appliedAt: string | null; error: string | null };

export const toInboxRow = (e: InboxEntry): InboxRow => ({
	id: e.id,
	source: e.source,
	type: e.type,
	status: e.status,
	attempts: e.attempts,
	receivedAt: e.receivedAt,
	appliedAt: e.appliedAt,
	error: e.error,
});

/** `inbox`: recorded webhook events, newest first. */
export async function inboxList(broker: ServiceBroker, { failed, source, limit = 20 }: { failed?: boolean; source?: WebhookSource; limit?: number } = {}): Promise<InboxRow[]> {
	const params: InboxParams = { limit, ...(failed ? { status: "failed" } : {}), ...(source ? { source } : {}) };
	return (await broker.call<InboxEntry[], InboxParams>("webhooks.inbox", params, CALL)).map(toInboxRow);
}

/** `inbox replay <id>`: applies a recorded event again. */
export async function inboxReplay(broker: ServiceBroker, id: string, { force = false } = {}): Promise<InboxRow> {
	return toInboxRow(await broker.call<InboxEntry, object>("webhooks.replay", { id, force }, CALL));
}

// ---------------------------------------------------------------- kick

export type KickResult = { vendorId: string; nodes: string[]; closed: boolean };

/** `kick`: closes the vendor's live socket (close code KICKED) wherever it is. */
export async function kickVendor(broker: ServiceBroker, vendorId: string): Promise<KickResult> {
	const nodes = socketNodesOf(await sampleLive(broker, { sockets: true }), vendorId);
	await broker.call("live.kick", { vendorId }, CALL);
	return { vendorId, nodes, closed: nodes.length > 0 };
}
