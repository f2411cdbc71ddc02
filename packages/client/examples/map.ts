import * as L from "leaflet";
import { connect, VendorsInView } from "@venta/client";

const map = L.map("map").setView([52.52, 13.405], 15);
const markers = new Map<string, L.Marker>();
const live = connect({
	url: new URLSearchParams(location.search).get("live") ?? "ws://localhost:3001/live",
	// Your sign-in's session token (Clerk: () => Clerk.session.getToken()), asked again before it expires.
	getToken: () => fetch("/session-token").then(res => res.text()),
});
const vendors = new VendorsInView(live);
vendors.on("add", v => markers.set(v.id, L.marker([v.lat, v.lng]).addTo(map)));
vendors.on("move", v => markers.get(v.id)?.setLatLng([v.lat, v.lng]));
vendors.on("remove", v => markers.get(v.id)?.remove());
const watchView = () => {
	const b = map.getBounds();
	live.watch({ bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()] });
};
map.on("moveend", watchView).whenReady(watchView);
