import * as L from "leaflet";
import { cellToBoundary } from "h3-js";
import type { HeatCell } from "./api.ts";

/** A cell's outline, closed, as Leaflet draws it. */
export const ring = (cell: string): L.LatLngTuple[] => {
	const points = cellToBoundary(cell) as L.LatLngTuple[];
	return [...points, points[0]!];
};

/** Heat colours from few to many live vendors per cell. */
const HEAT_COLOURS = ["#fee8c8", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"];

/**
 * H3 cell drawing on a canvas: the watched cells as one faint outline layer (thousands of
 * cells stay cheap), and the heatmap as cells shaded by their live vendor count.
 */
export function createCellLayers(map: L.Map) {
	const renderer = L.canvas({ padding: 0.3 });
	let watched: L.Polyline | undefined;
	const heat = L.layerGroup();

	return {
		showWatched(cells: string[]): void {
			watched?.remove();
			watched = cells.length
				? L.polyline(cells.map(ring), { renderer, color: "#3d5a80", weight: 1, opacity: 0.25, interactive: false }).addTo(map)
				: undefined;
		},
		showHeat(cells: HeatCell[]): void {
			heat.clearLayers();
			const max = Math.max(1, ...cells.map(c => c.count));
			for (const { cell, count } of cells) {
				if (count <= 0) continue;
				const colour = HEAT_COLOURS[Math.min(HEAT_COLOURS.length - 1, Math.floor((count / max) * HEAT_COLOURS.length))]!;
				L.polygon(ring(cell), { renderer, stroke: false, fillColor: colour, fillOpacity: 0.55, interactive: false })
					.bindTooltip(`${count} live`, { sticky: true })
					.addTo(heat);
			}
			if (!map.hasLayer(heat)) heat.addTo(map);
		},
		hideHeat(): void {
			heat.clearLayers();
			heat.remove();
		},
	};
}

export type CellLayers = ReturnType<typeof createCellLayers>;
