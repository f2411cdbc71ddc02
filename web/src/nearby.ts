import type * as L from "leaflet";
import { nearby, type NearbyVendor } from "./api.ts";
import { MAX_RADIUS_M } from "../../lib/geo.ts";
import { debounce, formatDistance, h } from "./dom.ts";

const REFRESH_MS = 10_000;

type Elements = { q: HTMLInputElement; category: HTMLSelectElement; online: HTMLInputElement; list: HTMLElement; info: HTMLElement };

/**
 * The side list: vendors near the map centre (REST discovery/nearby) within the visible
 * radius, filtered by text and category, refreshed on pan/zoom, on filter changes and periodically.
 */
export function createNearbyList(map: L.Map, els: Elements, onPick: (v: NearbyVendor) => void) {
	const knownCategories = new Set<string>();
	let inFlight: AbortController | undefined;

	function addCategories(vendors: NearbyVendor[]): void {
		const before = knownCategories.size;
		for (const v of vendors) for (const c of v.categories) knownCategories.add(c);
		if (knownCategories.size === before) return;
		const chosen = els.category.value;
		els.category.replaceChildren(
			h("option", { value: "" }, "All categories"),
			...[...knownCategories].sort().map(c => h("option", { value: c }, c))
		);
		els.category.value = chosen;
	}

	function render(vendors: NearbyVendor[], total: number): void {
		const count =
			total > vendors.length ? `nearest ${vendors.length} of ${total} vendors` : `${total} vendor${total === 1 ? "" : "s"} nearby`;
		els.info.textContent = vendors.length ? count : "No vendors match here.";
		els.list.replaceChildren(
			...vendors.map(v => {
				const live = v.online;
				const item = h(
					"li",
					{ "data-id": v.id, tabindex: "0" },
					h("span", { class: `dot ${live ? "online" : "offline"}`, title: live ? "online" : "offline" }),
					h("span", { class: "name" }, v.name),
					h("span", { class: "distance" }, formatDistance(v.distance)),
					h("span", { class: "categories" }, v.categories.join(" · "))
				);
				item.addEventListener("click", () => onPick(v));
				item.addEventListener("keydown", e => e.key === "Enter" && onPick(v));
				return item;
			})
		);
	}

	async function refresh(): Promise<void> {
		inFlight?.abort();
		const controller = new AbortController();
		inFlight = controller;
		const centre = map.getCenter();
		const radius = Math.min(MAX_RADIUS_M, Math.max(100, centre.distanceTo(map.getBounds().getNorthEast())));
		try {
			const { rows, total } = await nearby(
				{ lat: centre.lat, lng: centre.lng, radius, q: els.q.value.trim(), category: els.category.value, online: els.online.checked },
				controller.signal
			);
			addCategories(rows);
			render(rows, total);
		} catch (err) {
			if (controller.signal.aborted) return;
			els.info.textContent = `Nearby search failed: ${(err as Error).message}`;
		}
	}

	const refreshSoon = debounce(() => void refresh(), 300);
	els.q.addEventListener("input", refreshSoon);
	els.category.addEventListener("change", refreshSoon);
	els.online.addEventListener("change", refreshSoon);
	els.q.form?.addEventListener("submit", e => {
		e.preventDefault();
		void refresh();
	});
	map.on("moveend", refreshSoon);
	setInterval(() => void refresh(), REFRESH_MS);
	void refresh();
}
