import "leaflet/dist/leaflet.css";
import "./style.css";
import * as L from "leaflet";
import { connect, VendorsInView, type LiveClient, type StateChange } from "@venta/client";
import { DEFAULT_CITY_BBOX } from "../../scripts/simulate/motion.ts";
import { createAlertsPanel } from "./alerts.ts";
import { getVendor, heatmap, loadPageConfig, type NearbyVendor, type PageConfig } from "./api.ts";
import { createVendorCard } from "./card.ts";
import { createCellLayers, type CellLayers } from "./cells.ts";
import { createDemandLayer } from "./demand.ts";
import { debounce } from "./dom.ts";
import { loadFavorites, type Favorites } from "./favorites.ts";
import { sessionToken } from "./live.ts";
import { createVendorMarkers, type VendorMarkers } from "./markers.ts";
import { createNearbyList } from "./nearby.ts";

const WATCH_DEBOUNCE_MS = 250;
const HEAT_REFRESH_MS = 5_000;
const DEFAULT_ZOOM = 14;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** `#lat,lng,zoom` in the address: a view can be shared and survives a reload. */
function viewFromHash(): { centre: L.LatLngTuple; zoom: number } {
	const [lat, lng, zoom] = location.hash.slice(1).split(",").map(Number);
	if (Number.isFinite(lat) && Number.isFinite(lng) && Math.abs(lat!) <= 85 && Math.abs(lng!) <= 180) {
		return { centre: [lat!, lng!], zoom: Number.isInteger(zoom) && zoom! >= 2 && zoom! <= 19 ? zoom! : DEFAULT_ZOOM };
	}
	const [w, s, e, n] = DEFAULT_CITY_BBOX;
	return { centre: [(s + n) / 2, (w + e) / 2], zoom: DEFAULT_ZOOM };
}

/** The viewport as [w, s, e, n], clamped to what the server accepts (a map may wrap the world). */
function viewportBBox(map: L.Map): [number, number, number, number] {
	const b = map.getBounds();
	const round = (v: number) => Math.round(v * 1e5) / 1e5;
	return [
		round(Math.max(-180, b.getWest())),
		round(Math.max(-85, b.getSouth())),
		round(Math.min(180, b.getEast())),
		round(Math.min(85, b.getNorth())),
	];
}

/** Heatmap cells get coarser as the map zooms out, so a city or a country both stay readable. */
const heatRes = (zoom: number, max: number) => Math.max(0, Math.min(max, Math.round(zoom / 2) + 1));

function liveUrlOf(config: PageConfig): string {
	// `?live=wss://…` points the page at a live gateway published elsewhere (e.g. behind a proxy).
	const override = new URLSearchParams(location.search).get("live");
	if (override) return override;
	return `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:${config.livePort}/live`;
}

function showBanner(text: string | undefined): void {
	const banner = $("banner");
	banner.hidden = !text;
	banner.textContent = text ?? "";
}

function createMap(config: PageConfig): L.Map {
	const view = viewFromHash();
	const map = L.map("map", { zoomControl: true, preferCanvas: false }).setView(view.centre, view.zoom);
	if (config.tilesUrl) {
		const attribution = `Tiles: ${new URL(config.tilesUrl.replace(/[{}]/g, "")).hostname}`;
		L.tileLayer(config.tilesUrl, { maxZoom: 19, attribution }).addTo(map);
	} else {
		document.body.classList.add("no-tiles");
		map.attributionControl.addAttribution("No base map (MAP_TILES_URL is not set)");
	}
	return map;
}

const STATE_LABELS = { connecting: "connecting…", open: "live", reconnecting: "reconnecting…", closed: "disconnected" } as const;

function showState({ state, code, attempt }: StateChange): void {
	const status = $("status");
	status.dataset.state = state === "open" ? "live" : state;
	status.textContent = STATE_LABELS[state];
	status.title = code === undefined ? state : `closed (${code})${attempt ? `; retry ${attempt}` : ""}`;
}

/** What the map shows of the live stream: markers, watched cells, and whether the view was refused as too large. */
type LiveView = { markers: VendorMarkers; cells: CellLayers; watchedCells: number; tooLarge: boolean; renderCounts(): void };

/**
 * The watcher socket (the SDK: token in the first frame and refreshed, reconnects, the watch set
 * sent again) and the vendors in view, drawn as markers.
 */
function connectView(config: PageConfig, view: LiveView): { live: LiveClient; vendors: VendorsInView } {
	const live = connect({ url: liveUrlOf(config), getToken: sessionToken });
	const vendors = new VendorsInView(live);
	vendors.on("add", v => view.markers.add(v));
	vendors.on("move", v => view.markers.move(v));
	vendors.on("remove", v => view.markers.remove(v.id));
	live.on("state", showState);
	live.on("snapshot", frame => {
		if (!view.tooLarge) showBanner(undefined);
		view.watchedCells = frame.cells.length;
		view.cells.showWatched(frame.cells);
	});
	live.on("error", frame => {
		if (frame.code !== "TOO_MANY_CELLS") return showBanner(`Live: ${frame.message}`);
		// A refused watch leaves the previous one in place on the server: replace it with nothing.
		view.tooLarge = true;
		live.watch({ cells: [] });
		showBanner(`Zoom in to watch vendors live: this view covers more than ${config.watchMaxCells} cells. The heatmap still works.`);
		view.watchedCells = 0;
		view.cells.showWatched([]);
		vendors.clear();
	});
	for (const event of ["snapshot", "pos", "gone", "error"] as const) live.on(event, () => view.renderCounts());
	return { live, vendors };
}

/** The heatmap toggle: cells shaded by live vendor counts, refreshed with the view and every few seconds. */
function heatmapLayer(map: L.Map, cells: CellLayers, config: PageConfig): () => void {
	const toggle = $<HTMLInputElement>("heatmap-toggle");
	let request: AbortController | undefined;
	async function refresh(): Promise<void> {
		if (!toggle.checked) return;
		request?.abort();
		const controller = new AbortController();
		request = controller;
		try {
			cells.showHeat(await heatmap(viewportBBox(map), heatRes(map.getZoom(), config.h3Res), controller.signal));
		} catch (err) {
			if (!controller.signal.aborted) showBanner(`Heatmap failed: ${(err as Error).message}`);
		}
	}
	toggle.addEventListener("change", () => (toggle.checked ? void refresh() : cells.hideHeat()));
	setInterval(() => void refresh(), HEAT_REFRESH_MS);
	return () => void refresh();
}

async function start(): Promise<void> {
	const config = await loadPageConfig();
	const map = createMap(config);
	const markers = createVendorMarkers(map, id => select(id));
	let favorites: Favorites | undefined;
	const card = createVendorCard(
		$("vendor-card"),
		id => vendors.get(id),
		() => markers.select(undefined),
		() => favorites
	);
	const view: LiveView = {
		markers,
		cells: createCellLayers(map),
		watchedCells: 0,
		tooLarge: false,
		renderCounts: () => {
			$("counts").textContent = `${markers.size} live · ${view.watchedCells} cells watched`;
		},
	};
	function select(id: string): void {
		markers.select(id);
		void card.show(id);
	}

	const { live, vendors } = connectView(config, view);
	const refreshHeat = heatmapLayer(map, view.cells, config);
	const onViewChange = debounce(() => {
		view.tooLarge = false;
		live.watch({ bbox: viewportBBox(map) });
		refreshHeat();
		const c = map.getCenter();
		history.replaceState(null, "", `#${c.lat.toFixed(5)},${c.lng.toFixed(5)},${map.getZoom()}`);
	}, WATCH_DEBOUNCE_MS);
	map.on("moveend", onViewChange);
	live.watch({ bbox: viewportBBox(map) });

	const els = {
		q: $<HTMLInputElement>("q"),
		category: $<HTMLSelectElement>("category"),
		online: $<HTMLInputElement>("online-only"),
		list: $("nearby"),
		info: $("list-info"),
	};
	createNearbyList(map, els, (v: NearbyVendor) => {
		const p = vendors.get(v.id) ?? v.position;
		map.panTo([p.lat, p.lng]);
		select(v.id);
	});
	view.renderCounts();
	// Vendor and admin accounts only; it never stops the rest of the page.
	void createDemandLayer({ map, bbox: () => viewportBBox(map), getToken: sessionToken, h3Res: config.h3Res, bar: $("topbar") }).catch(
		() => undefined
	);

	favorites = await loadFavorites(sessionToken).catch(() => undefined);
	await createAlertsPanel($("alerts"), {
		live,
		getToken: sessionToken,
		centre: () => map.getCenter(),
		vendorName: id =>
			getVendor(id).then(
				v => v.name,
				() => id
			),
		onPick: id => select(id),
	});
}

start().catch(err => showBanner(`The map could not start: ${(err as Error).message}`));
