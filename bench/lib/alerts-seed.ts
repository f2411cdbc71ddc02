/**
 * Alerts as a restarted deployment has them (issue 16's bench): records built by the alerts
 * service's own `checkAlert` and `compileAlert` and written to DATA_DIR's `alerts` collection
 * through the engine's own store (mixins/db.mixin.ts), while the engine is stopped; the engine's
 * next start loads them into geo (`alerts.fences`). Creating 100 000 over REST would take minutes
 * (20 per user, a few hundred requests/s).
 */
import { checkAlert, compileAlert, usesFavorites } from "../../services/alerts/compile.ts";
import { MAX_ALERTS_PER_USER, type Alert, type CreateAlertParams, type Fence } from "../../services/alerts/contract.ts";
import { FenceIndex } from "../../services/geo/fences/index.ts";
import { compileShape } from "../../services/geo/fences/shapes.ts";
import { createStore, type Store } from "../../mixins/db.mixin.ts";
import type { Config } from "../../config/index.ts";
import type { BBox } from "../servers/cells.ts";
import { boxAround } from "./places.ts";
import { seededRng } from "../../scripts/simulate/motion.ts";

/** What the store keeps per alert: the alert and its compiled fence (services/alerts/alerts.service.ts). */
type AlertDoc = Omit<Alert, "id"> & { _id: string; fence: Fence };

const M_PER_DEG_LAT = 111_320;
/** Categories the spread alerts ask for; the bench's vendors are all "coffee", so 1 in 8 category alerts is about them. */
const CATEGORIES = ["coffee", "tacos", "ice-cream", "burgers", "crepes", "kebab", "vegan", "bakery"];
const FAVORITES_PER_USER = 5;

/** Where the spread alerts are: `share` of them in the ingest city's box, the rest over the region. */
export type Spread = { city: BBox; region: BBox; cityShare: number; seed: number };
/** The drive fences: `vendors` rows of `perVendor` circles each, about that vendor only. */
export type DriveLayout = { origin: { lat: number; lng: number }; radius: number; spacingM: number; rowM: number; perVendor: number };

const offset = (lat: number, lng: number, northM: number, eastM: number) => ({
	lat: lat + northM / M_PER_DEG_LAT,
	lng: lng + eastM / (M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180)),
});

function pointIn([w, s, e, n]: BBox, random: () => number) {
	return { lat: s + random() * (n - s), lng: w + random() * (e - w) };
}

/** A star-shaped ring (angles ascending, so never self-intersecting), `[lng, lat]` pairs. */
function ringAround(c: { lat: number; lng: number }, random: () => number): [number, number][] {
	const points = 5 + Math.floor(random() * 4);
	const base = 400 + random() * 1100;
	return Array.from({ length: points }, (_, i) => {
		const angle = (2 * Math.PI * i) / points;
		const r = base * (0.7 + 0.3 * random());
		const p = offset(c.lat, c.lng, r * Math.cos(angle), r * Math.sin(angle));
		return [p.lng, p.lat];
	});
}

/** One spread alert's REST body: half `vendor_nearby` 500 m around a point, half areas (circles, polygons). */
function spreadParams(at: { lat: number; lng: number }, vendorIds: readonly string[], random: () => number): CreateAlertParams {
	const category = CATEGORIES[Math.floor(random() * CATEGORIES.length)]!;
	const pick = random();
	if (random() < 0.5) {
		const vendor =
			pick < 0.4 ? { favorites: true as const } : pick < 0.7 ? { category } : { id: vendorIds[Math.floor(random() * vendorIds.length)]! };
		return { kind: "vendor_nearby", vendor, radius: 500, at };
	}
	const filter = pick < 0.5 ? { categories: [category] } : pick < 0.75 ? { favorites: true } : {};
	const area =
		random() < 0.5
			? { type: "circle" as const, center: at, radius: 300 + Math.round(random() * 1200) }
			: { type: "polygon" as const, points: ringAround(at, random) };
	return { kind: "area", filter, area, on: random() < 0.5 ? ["enter"] : ["enter", "exit"] };
}

/** The stored record of a REST body, as `alerts.create` makes it (checked, defaults, compiled fence). */
function toDoc(id: string, userId: string, params: CreateAlertParams, favorites: string[]): AlertDoc {
	const alert = { ...checkAlert(params), id, userId, createdAt: new Date().toISOString() } as Alert;
	const fence = compileAlert(alert, usesFavorites(alert) ? favorites : []);
	const { id: _id, ...rest } = alert;
	return { _id, ...rest, fence };
}

/**
 * `count` alerts of `count / 20` users (the per-user cap) spread as `spread` says; favourites and
 * single-vendor alerts name the given vendors (the ingest vendors: what customers there would pick).
 */
export function spreadAlerts(count: number, spread: Spread, vendorIds: readonly string[]): AlertDoc[] {
	const random = seededRng(spread.seed);
	const favoritesOf = new Map<string, string[]>();
	return Array.from({ length: count }, (_, i) => {
		const userId = `user_alerts_${Math.floor(i / MAX_ALERTS_PER_USER)}`;
		let favorites = favoritesOf.get(userId);
		if (!favorites) {
			favorites = Array.from({ length: FAVORITES_PER_USER }, () => vendorIds[Math.floor(random() * vendorIds.length)]!);
			favoritesOf.set(userId, favorites);
		}
		const at = pointIn(random() < spread.cityShare ? spread.city : spread.region, random);
		return toDoc(`alr_bench_s${i}`, userId, spreadParams(at, vendorIds, random), favorites);
	});
}

/** The owner of drive fence `n` (20 per user): their sockets receive its alerts. */
export const driveOwner = (n: number) => `user_drive_${Math.floor(n / MAX_ALERTS_PER_USER)}`;

/** Circle `j` of drive vendor `i`: where it stands to be inside that circle only. */
export const driveCenter = (layout: DriveLayout, i: number, j: number) =>
	offset(layout.origin.lat, layout.origin.lng, i * layout.rowM, j * layout.spacingM);

/** Every drive vendor's circles, `vendor_nearby` about that vendor alone, owned 20 per user. */
export function driveAlerts(layout: DriveLayout, vendorIds: readonly string[]): AlertDoc[] {
	return vendorIds.flatMap((vendorId, i) =>
		Array.from({ length: layout.perVendor }, (_, j) => {
			const n = i * layout.perVendor + j;
			const params: CreateAlertParams = {
				kind: "vendor_nearby",
				vendor: { id: vendorId },
				radius: layout.radius,
				at: driveCenter(layout, i, j),
			};
			return toDoc(`alr_bench_d${n}`, driveOwner(n), params, []);
		})
	);
}

async function withStore<T>(dataDir: string, collection: string, use: (store: Store) => Promise<T>): Promise<T> {
	// createStore reads only the store settings of the config (MONGO_URL unset: NeDB under DATA_DIR).
	const store = createStore({ dataDir } as Config, collection);
	await store.connect();
	try {
		return await use(store);
	} finally {
		await store.disconnect();
	}
}

/** Appends the records to DATA_DIR's alerts collection (one NeDB write); the engine must be stopped. */
export function writeAlerts(dataDir: string, docs: AlertDoc[]): Promise<void> {
	return withStore(dataDir, "alerts", async store => {
		await store.insert(docs);
	});
}

/** Makes an existing user an admin, as the REPL's `role` would (the engine must be stopped). */
export function makeAdmin(dataDir: string, userId: string): Promise<number> {
	return withStore(dataDir, "users", store => store.updateMany({ _id: userId }, { $set: { role: "admin" } }));
}

/** How many of `docs`' fences each place's cell is tested against: geo's own index over the fences near `box`. */
export function fencesPerCell(docs: readonly AlertDoc[], box: BBox, cells: readonly string[], positionRes: number): number[] {
	const [w, s, e, n] = boxAround((box[1] + box[3]) / 2, (box[0] + box[2]) / 2, 30_000);
	const index = new FenceIndex<string>(positionRes);
	for (const { fence } of docs) {
		const shape = compileShape(fence.shape);
		if (!shape) continue;
		const b = shape.bounds;
		if (b.east < w || b.west > e || b.north < s || b.south > n) continue;
		index.set(fence.id, b, "any");
	}
	// Every fence as "any vendor": the fences whose cells cover the place (a position meets only those that may want its vendor).
	return cells.map(cell => index.candidates(cell)?.any.size ?? 0);
}
