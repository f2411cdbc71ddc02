import "./demand.css";
import * as L from "leaflet";
import type { TokenProvider } from "@venta/client";
import { demandLevels } from "../../lib/demand.ts";
import { DEMAND_VENDOR_AREA_M, type CellWatchers } from "../../services/discovery/contract.ts";
import { ApiError, askToken, demand, getMe } from "./api.ts";
import { ring } from "./cells.ts";
import { debounce, h } from "./dom.ts";

const REFRESH_MS = 10_000;
const MOVE_DEBOUNCE_MS = 500;
/** From this zoom on the cells are the watch resolution's; further out, the coarse level's. */
const FINE_FROM_ZOOM = 13;
/** Shades from a few to many watchers per cell. */
const DEMAND_COLOURS = ["#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f"];

type DemandDeps = {
	map: L.Map;
	/** The viewport as [w, s, e, n]. */
	bbox(): readonly number[];
	getToken: TokenProvider;
	h3Res: number;
	/** Where the toggle and its line of text go. */
	bar: HTMLElement;
};

/** What to say about a refused demand read, in a few words (the answer's code decides, the box is never echoed). */
function refusal(err: unknown): string {
	if (!(err instanceof ApiError)) return "Demand is not available right now.";
	if (err.type === "OUTSIDE_OWN_AREA") return `Demand shows within ${DEMAND_VENDOR_AREA_M / 1000} km of your vendors: zoom in near them.`;
	if (err.type === "NO_POSITION") return "Demand shows around your vendors once one has a position.";
	if (err.type === "AREA_TOO_LARGE") return "Zoom in to see the demand.";
	return `Demand: ${err.message}`;
}

/** One line on what is drawn (a watcher of many cells counts in each, so cell counts are not summed). */
function describe(cells: CellWatchers[], minCount: number): string {
	const hidden = `cells under ${minCount} not shown`;
	if (cells.length === 0) return `Nobody watching here (${hidden})`;
	const busiest = Math.max(...cells.map(c => c.watchers));
	return `${cells.length} ${cells.length === 1 ? "cell" : "cells"} watched, the busiest by ${busiest} (${hidden})`;
}

/** The cells drawn as SVG paths, each carrying its cell id and count, shaded by its share of the busiest. */
function drawCells(group: L.LayerGroup, renderer: L.Renderer, cells: CellWatchers[]): void {
	group.clearLayers();
	const max = Math.max(1, ...cells.map(c => c.watchers));
	for (const { cell, watchers } of cells) {
		const colour = DEMAND_COLOURS[Math.min(DEMAND_COLOURS.length - 1, Math.floor((watchers / max) * DEMAND_COLOURS.length))]!;
		const polygon = L.polygon(ring(cell), {
			renderer,
			className: "demand-cell",
			color: "#54278f",
			weight: 1,
			fillColor: colour,
			fillOpacity: 0.5,
		})
			.bindTooltip(`${watchers} watching`, { sticky: true })
			.addTo(group);
		const el = polygon.getElement();
		el?.setAttribute("data-cell", cell);
		el?.setAttribute("data-watchers", String(watchers));
	}
}

/**
 * The "Demand" toggle for vendor and admin accounts: how many customers watch each cell of the
 * visible area (`GET /api/discovery/demand`; cells under the privacy threshold are not sent),
 * refreshed every 10 s and after the map moves. Customers and anonymous visitors get nothing.
 */
export async function createDemandLayer(deps: DemandDeps): Promise<void> {
	const token = await askToken(deps.getToken);
	if (!token) return;
	const me = await getMe(token).catch(() => undefined);
	if (me?.role !== "vendor" && me?.role !== "admin") return;

	const toggle = h("input", { type: "checkbox", id: "demand-toggle" }) as HTMLInputElement;
	const info = h("span", { id: "demand-info", "aria-live": "polite" });
	info.hidden = true;
	deps.bar.append(h("label", { class: "toggle" }, toggle, " Demand"), info);
	const { fine, coarse } = demandLevels(deps.h3Res);
	const renderer = L.svg({ padding: 0.3 });
	const cells = L.layerGroup();
	let request: AbortController | undefined;

	const refresh = async (): Promise<void> => {
		if (!toggle.checked) return;
		request?.abort();
		const controller = new AbortController();
		request = controller;
		const res = deps.map.getZoom() >= FINE_FROM_ZOOM ? fine : coarse;
		try {
			const answer = await demand(deps.bbox(), res, (await askToken(deps.getToken)) ?? token, controller.signal);
			if (!toggle.checked || controller.signal.aborted) return;
			drawCells(cells, renderer, answer.cells);
			info.textContent = describe(answer.cells, answer.minCount);
		} catch (err) {
			if (controller.signal.aborted) return;
			cells.clearLayers();
			info.textContent = refusal(err);
		}
	};
	toggle.addEventListener("change", () => {
		info.hidden = !toggle.checked;
		if (toggle.checked) {
			cells.addTo(deps.map);
			void refresh();
		} else {
			request?.abort();
			cells.clearLayers();
			cells.remove();
		}
	});
	deps.map.on(
		"moveend",
		debounce(() => void refresh(), MOVE_DEBOUNCE_MS)
	);
	setInterval(() => void refresh(), REFRESH_MS);
}
