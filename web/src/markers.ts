import * as L from "leaflet";
import type { VendorInView as VendorPosition } from "@venta/client";

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

function newMarker(p: VendorPosition, onSelect: (id: string) => void): L.Marker {
	const icon = L.divIcon({
		className: "vendor-marker",
		html: '<span class="arrow"></span><span class="dot"></span>',
		iconSize: [24, 24],
		iconAnchor: [12, 12],
	});
	const marker = L.marker([p.lat, p.lng], { icon, keyboard: true, title: p.id });
	marker.on("click", () => onSelect(p.id));
	return marker;
}

/** The marker's look: selected or not, and an arrow along the heading while the vendor moves. */
function styleMarker(id: string, t: Tracked, selected: boolean): void {
	const el = t.marker.getElement();
	if (!el) return;
	el.dataset.id = id;
	const { hdg, spd } = t.position;
	const heading = hdg !== undefined && (spd === undefined || spd > 0);
	el.classList.toggle("has-heading", heading);
	el.classList.toggle("selected", selected);
	const arrow = el.querySelector<HTMLElement>(".arrow");
	if (arrow && heading) arrow.style.transform = `rotate(${hdg}deg)`;
}

/** Moves every gliding marker one animation frame on; true while any is still gliding. */
function stepGlides(tracked: Iterable<Tracked>, now: number): boolean {
	let more = false;
	for (const t of tracked) {
		if (t.startedAt < 0) continue;
		const k = Math.min(1, (now - t.startedAt) / t.durationMs);
		t.marker.setLatLng([t.from.lat + (t.to.lat - t.from.lat) * k, t.from.lng + (t.to.lng - t.from.lng) * k]);
		if (k < 1) more = true;
		else t.startedAt = -1;
	}
	return more;
}

/**
 * Live vendor markers: each glides from where it is drawn to its new position over roughly
 * the time since its previous update, and points along its heading while it moves.
 */
export function createVendorMarkers(map: L.Map, onSelect: (id: string) => void) {
	const tracked = new Map<string, Tracked>();
	let selected: string | undefined;
	let animating = false;
	const animate = (now: number) => {
		animating = stepGlides(tracked.values(), now);
		if (animating) requestAnimationFrame(animate);
	};

	function upsert(p: VendorPosition, glide: boolean): void {
		const now = performance.now();
		const to = L.latLng(p.lat, p.lng);
		let t = tracked.get(p.id);
		if (!t) {
			t = { marker: newMarker(p, onSelect).addTo(map), from: to, to, startedAt: -1, durationMs: 0, lastUpdateAt: now, position: p };
			tracked.set(p.id, t);
		} else if (glide) {
			Object.assign(t, {
				from: t.marker.getLatLng(),
				to,
				startedAt: now,
				durationMs: Math.min(MAX_GLIDE_MS, Math.max(MIN_GLIDE_MS, now - t.lastUpdateAt)),
			});
			if (!animating) {
				animating = true;
				requestAnimationFrame(animate);
			}
		} else {
			t.startedAt = -1;
			t.marker.setLatLng(to);
		}
		t.position = p;
		t.lastUpdateAt = now;
		styleMarker(p.id, t, p.id === selected);
	}

	function remove(id: string): void {
		tracked.get(id)?.marker.remove();
		tracked.delete(id);
	}

	/** Bound to the SDK's VendorsInView: a vendor came into view, moved (glides there), or left. */
	return {
		add: (p: VendorPosition) => upsert(p, false),
		move: (p: VendorPosition) => upsert(p, true),
		remove,
		select(id: string | undefined): void {
			const previous = selected;
			selected = id;
			for (const key of [previous, id]) {
				const t = key ? tracked.get(key) : undefined;
				if (t && key) styleMarker(key, t, key === selected);
			}
		},
		get size() {
			return tracked.size;
		},
	};
}

export type VendorMarkers = ReturnType<typeof createVendorMarkers>;
