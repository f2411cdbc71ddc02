import "leaflet/dist/leaflet.css";
import "./style.css";
import * as L from "leaflet";
import { DEFAULT_CITY_BBOX } from "../../scripts/simulate/motion.ts";
import { heatmap, loadPageConfig, type NearbyVendor, type PageConfig } from "./api.ts";
import { createVendorCard } from "./card.ts";
import { createCellLayers } from "./cells.ts";
import { debounce } from "./dom.ts";
import { connectLive, type LiveState } from "./live.ts";
import { createVendorMarkers } from "./markers.ts";
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

async function start(): Promise<void> {
	const config = await loadPageConfig();
	const view = viewFromHash();
	const map = L.map("map", { zoomControl: true, preferCanvas: false }).setView(view.centre, view.zoom);
	if (config.tilesUrl) {
		L.tileLayer(config.tilesUrl, { maxZoom: 19, attribution: `Tiles: ${new URL(config.tilesUrl.replace(/[{}]/g, "")).hostname}` }).addTo(
			map
		);
	} else {
		document.body.classList.add("no-tiles");
		map.attributionControl.addAttribution("No base map (MAP_TILES_URL is not set)");
	}

	const cells = createCellLayers(map);
	const markers = createVendorMarkers(map, id => select(id));
	const card = createVendorCard(
		$("vendor-card"),
		id => markers.position(id),
		() => markers.select(undefined)
	);
	let watchedCells = 0;
	/** The server refused the view as too large: nothing is streamed until the view changes. */
	let tooLarge = false;

	const renderCounts = () => ($("counts").textContent = `${markers.size} live · ${watchedCells} cells watched`);
	function select(id: string): void {
		markers.select(id);
		void card.show(id);
	}
	function setState(state: LiveState, detail: string): void {
		const status = $("status");
		status.dataset.state = state;
		status.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" : "reconnecting…";
		status.title = detail;
	}

	const live = connectLive(liveUrlOf(config), {
		onState(state, detail) {
			setState(state, detail);
			if (state === "reconnecting") {
				// What we show would go stale: the next snapshot redraws it.
				markers.clear();
				renderCounts();
			}
		},
		onFrame(frame) {
			switch (frame.op) {
				case "snapshot":
					if (!tooLarge) showBanner(undefined);
					watchedCells = frame.cells.length;
					cells.showWatched(frame.cells);
					markers.snapshot(frame.vendors);
					break;
				case "pos":
					if (!tooLarge) markers.update(frame);
					break;
				case "gone":
					markers.remove(frame.id);
					break;
				case "error":
					if (frame.code === "TOO_MANY_CELLS") {
						// A refused watch leaves the previous one in place on the server: replace it with nothing.
						tooLarge = true;
						live.watchNothing();
						showBanner(`Zoom in to watch vendors live: this view covers more than ${config.watchMaxCells} cells. The heatmap still works.`);
						watchedCells = 0;
						cells.showWatched([]);
						markers.clear();
					} else {
						showBanner(`Live: ${frame.message}`);
					}
					break;
			}
			renderCounts();
		},
	});

	const heatToggle = $<HTMLInputElement>("heatmap-toggle");
	let heatRequest: AbortController | undefined;
	async function refreshHeat(): Promise<void> {
		if (!heatToggle.checked) return;
		heatRequest?.abort();
		const controller = (heatRequest = new AbortController());
		try {
			cells.showHeat(await heatmap(viewportBBox(map), heatRes(map.getZoom(), config.h3Res), controller.signal));
		} catch (err) {
			if (!controller.signal.aborted) showBanner(`Heatmap failed: ${(err as Error).message}`);
		}
	}
	heatToggle.addEventListener("change", () => (heatToggle.checked ? void refreshHeat() : cells.hideHeat()));
	setInterval(() => void refreshHeat(), HEAT_REFRESH_MS);

	const onViewChange = debounce(() => {
		tooLarge = false;
		live.watchBBox(viewportBBox(map));
		void refreshHeat();
		const c = map.getCenter();
		history.replaceState(null, "", `#${c.lat.toFixed(5)},${c.lng.toFixed(5)},${map.getZoom()}`);
	}, WATCH_DEBOUNCE_MS);
	map.on("moveend", onViewChange);
	live.watchBBox(viewportBBox(map));

	createNearbyList(
		map,
		{ q: $("q"), category: $("category"), online: $("online-only"), list: $("nearby"), info: $("list-info") },
		(v: NearbyVendor) => {
			const p = markers.position(v.id) ?? v.position;
			if (p) map.panTo([p.lat, p.lng]);
			select(v.id);
		}
	);
	renderCounts();
}

start().catch(err => showBanner(`The map could not start: ${(err as Error).message}`));
