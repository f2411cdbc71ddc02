import "leaflet/dist/leaflet.css";
import "./style.css";
import * as L from "leaflet";
import { DEFAULT_CITY_BBOX } from "../../scripts/simulate/motion.ts";
import { heatmap, loadPageConfig, type NearbyVendor, type PageConfig } from "./api.ts";
import { createVendorCard } from "./card.ts";
import { createCellLayers, type CellLayers } from "./cells.ts";
import { debounce } from "./dom.ts";
import { connectLive, type LiveState } from "./live.ts";
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
function viewportBBox(map: L.Map): number[] {
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

function showState(state: LiveState, detail: string): void {
	const status = $("status");
	status.dataset.state = state;
	status.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" : "reconnecting…";
	status.title = detail;
}

/** What the map shows of the live stream: markers, watched cells, and whether the view was refused as too large. */
type LiveView = { markers: VendorMarkers; cells: CellLayers; watchedCells: number; tooLarge: boolean; renderCounts(): void };

/** The watcher socket, drawing every frame it receives into the view. */
function connectView(config: PageConfig, view: LiveView) {
	const live = connectLive(liveUrlOf(config), {
		onState(state, detail) {
			showState(state, detail);
			if (state !== "reconnecting") return;
			// What we show would go stale: the next snapshot redraws it.
			view.markers.clear();
			view.renderCounts();
		},
		onFrame(frame) {
			if (frame.op === "snapshot") {
				if (!view.tooLarge) showBanner(undefined);
				view.watchedCells = frame.cells.length;
				view.cells.showWatched(frame.cells);
				view.markers.snapshot(frame.vendors);
			} else if (frame.op === "pos") {
				if (!view.tooLarge) view.markers.update(frame);
			} else if (frame.op === "gone") {
				view.markers.remove(frame.id);
			} else if (frame.op === "error" && frame.code === "TOO_MANY_CELLS") {
				// A refused watch leaves the previous one in place on the server: replace it with nothing.
				view.tooLarge = true;
				live.watchNothing();
				showBanner(`Zoom in to watch vendors live: this view covers more than ${config.watchMaxCells} cells. The heatmap still works.`);
				view.watchedCells = 0;
				view.cells.showWatched([]);
				view.markers.clear();
			} else if (frame.op === "error") {
				showBanner(`Live: ${frame.message}`);
			}
			view.renderCounts();
		},
	});
	return live;
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
	const card = createVendorCard(
		$("vendor-card"),
		id => markers.position(id),
		() => markers.select(undefined)
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

	const live = connectView(config, view);
	const refreshHeat = heatmapLayer(map, view.cells, config);
	const onViewChange = debounce(() => {
		view.tooLarge = false;
		live.watchBBox(viewportBBox(map));
		refreshHeat();
		const c = map.getCenter();
		history.replaceState(null, "", `#${c.lat.toFixed(5)},${c.lng.toFixed(5)},${map.getZoom()}`);
	}, WATCH_DEBOUNCE_MS);
	map.on("moveend", onViewChange);
	live.watchBBox(viewportBBox(map));

	const els = {
		q: $<HTMLInputElement>("q"),
		category: $<HTMLSelectElement>("category"),
		online: $<HTMLInputElement>("online-only"),
		list: $("nearby"),
		info: $("list-info"),
	};
	createNearbyList(map, els, (v: NearbyVendor) => {
		const p = markers.position(v.id) ?? v.position;
		map.panTo([p.lat, p.lng]);
		select(v.id);
	});
	view.renderCounts();
}

start().catch(err => showBanner(`The map could not start: ${(err as Error).message}`));
