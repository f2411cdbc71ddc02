import * as L from "leaflet";
import type { VendorPosition } from "./live.ts";

type Tracked = {
	marker: L.Marker;
	from: L.LatLng;
	to: L.LatLng;
	startedAt: number;
	durationMs: number;
	lastUpdateAt: number;
	position: VendorPosition;
};

/** Glide time bounds: about one update interval, so motion looks continuous, never sluggish. */
const MIN_GLIDE_MS = 250;
const MAX_GLIDE_MS = 2_000;

/**
 * Live vendor markers: each glides from where it is drawn to its new position over roughly
 * the time since its previous update, and points along its heading while it moves.
 */
export function createVendorMarkers(map: L.Map, onSelect: (id: string) => void) {
	const tracked = new Map<string, Tracked>();
	let selected: string | undefined;
	let animating = false;

	function styleMarker(id: string, t: Tracked): void {
		const el = t.marker.getElement();
		if (!el) return;
		el.dataset.id = id;
		const { hdg, spd } = t.position;
		const heading = hdg !== undefined && (spd === undefined || spd > 0);
		el.classList.toggle("has-heading", heading);
		el.classList.toggle("selected", id === selected);
		const arrow = el.querySelector<HTMLElement>(".arrow");
		if (arrow && heading) arrow.style.transform = `rotate(${hdg}deg)`;
	}

	function animate(now: number): void {
		let more = false;
		for (const t of tracked.values()) {
			if (t.startedAt < 0) continue;
			const k = Math.min(1, (now - t.startedAt) / t.durationMs);
			t.marker.setLatLng([t.from.lat + (t.to.lat - t.from.lat) * k, t.from.lng + (t.to.lng - t.from.lng) * k]);
			if (k < 1) more = true;
			else t.startedAt = -1;
		}
		animating = more;
		if (more) requestAnimationFrame(animate);
	}

	function upsert(p: VendorPosition, glide: boolean): void {
		const now = performance.now();
		const to = L.latLng(p.lat, p.lng);
		const t = tracked.get(p.id);
		if (!t) {
			const marker = L.marker(to, {
				icon: L.divIcon({
					className: "vendor-marker",
					html: '<span class="arrow"></span><span class="dot"></span>',
					iconSize: [24, 24],
					iconAnchor: [12, 12],
				}),
				keyboard: true,
				title: p.id,
			});
			marker.on("click", () => onSelect(p.id));
			const fresh: Tracked = { marker, from: to, to, startedAt: -1, durationMs: 0, lastUpdateAt: now, position: p };
			tracked.set(p.id, fresh);
			marker.addTo(map);
			styleMarker(p.id, fresh);
			return;
		}
		t.position = p;
		if (glide) {
			t.from = t.marker.getLatLng();
			t.to = to;
			t.durationMs = Math.min(MAX_GLIDE_MS, Math.max(MIN_GLIDE_MS, now - t.lastUpdateAt));
			t.startedAt = now;
			if (!animating) {
				animating = true;
				requestAnimationFrame(animate);
			}
		} else {
			t.startedAt = -1;
			t.marker.setLatLng(to);
		}
		t.lastUpdateAt = now;
		styleMarker(p.id, t);
	}

	function remove(id: string): void {
		const t = tracked.get(id);
		if (!t) return;
		t.marker.remove();
		tracked.delete(id);
	}

	return {
		/** The watch set was replaced: exactly these vendors are live in view now. */
		snapshot(vendors: VendorPosition[]): void {
			const keep = new Set(vendors.map(v => v.id));
			for (const id of [...tracked.keys()]) if (!keep.has(id)) remove(id);
			for (const v of vendors) upsert(v, false);
		},
		update: (p: VendorPosition) => upsert(p, true),
		remove,
		clear(): void {
			for (const id of [...tracked.keys()]) remove(id);
		},
		select(id: string | undefined): void {
			const previous = selected;
			selected = id;
			for (const key of [previous, id]) {
				const t = key ? tracked.get(key) : undefined;
				if (t && key) styleMarker(key, t);
			}
		},
		position: (id: string): VendorPosition | undefined => tracked.get(id)?.position,
		get size() {
			return tracked.size;
		},
	};
}

export type VendorMarkers = ReturnType<typeof createVendorMarkers>;
