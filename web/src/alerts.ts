import "./alerts.css";
import type { AlertFrame, LiveClient, TokenProvider } from "@venta/client";
import type { Alert, AlertInput } from "../../services/alerts/contract.ts";
import type { LatLng } from "../../lib/geo.ts";
import { askToken, sendJson } from "./api.ts";
import { formatDistance, h } from "./dom.ts";
import { hasClerk, usePastedToken } from "./live.ts";

/** "Tell me when a favourite is within 500 m." */
export const FAVORITE_NEARBY_RADIUS_M = 500;
/** How long to wait for the browser's position before using the map's centre instead. */
const GEOLOCATION_WAIT_MS = 3_000;
/** Fired alerts kept in the feed. */
const FEED_LENGTH = 20;

type AlertsDeps = {
	live: LiveClient;
	getToken: TokenProvider;
	/** Where a fixed-point alert goes when the browser does not share its position. */
	centre(): LatLng;
	vendorName(id: string): Promise<string>;
	/** Shows the vendor of a fired alert on the map. */
	onPick(vendorId: string): void;
};

/** The browser's position, or undefined when it has none or will not tell. */
function currentPosition(): Promise<LatLng | undefined> {
	return new Promise(resolve => {
		if (!("geolocation" in navigator)) return resolve(undefined);
		navigator.geolocation.getCurrentPosition(
			p => resolve({ lat: p.coords.latitude, lng: p.coords.longitude }),
			() => resolve(undefined),
			{ timeout: GEOLOCATION_WAIT_MS, maximumAge: 60_000 }
		);
	});
}

function describe(alert: Alert): string {
	if (alert.kind !== "vendor_nearby") return `${alert.kind} alert`;
	const who = "favorites" in alert.vendor ? "a favourite" : "category" in alert.vendor ? alert.vendor.category : "a vendor";
	const where = alert.at === "here" ? "of me" : `of ${alert.at.lat.toFixed(4)}, ${alert.at.lng.toFixed(4)}`;
	return `${who} within ${formatDistance(alert.radius)} ${where}`;
}

/** Without Clerk on the page: a field to paste a session token (in development, one from `npm run token`). */
function pastedSignIn(): HTMLElement[] {
	if (hasClerk()) return [];
	const field = h("input", {
		type: "password",
		class: "token",
		placeholder: "session token",
		"aria-label": "Session token",
	}) as HTMLInputElement;
	const form = h("form", { class: "sign-in" }, field, h("button", { type: "submit" }, "Sign in"));
	form.addEventListener("submit", event => {
		event.preventDefault();
		usePastedToken(field.value.trim());
	});
	return [form, h("p", { class: "hint" }, "Development: npm run token -- --sub user_me")];
}

/**
 * The side panel's alerts: set "a favourite within 500 m" (of the customer's own position when the
 * browser shares it — sent over the socket, never stored — else of the map's centre), list and
 * remove them, and show each `alert` frame as it arrives.
 */
export async function createAlertsPanel(el: HTMLElement, deps: AlertsDeps): Promise<void> {
	const token = await askToken(deps.getToken);
	if (!token) {
		el.replaceChildren(h("p", { class: "hint" }, "Sign in to get alerts when your favourites come near."), ...pastedSignIn());
		return;
	}
	const authed = async () => (await askToken(deps.getToken)) ?? token;
	const list = h("ul", { class: "alert-list" });
	const feed = h("ol", { class: "alert-feed", "aria-live": "polite" });
	const add = h("button", { type: "button", class: "add-alert" }, `Tell me when a favourite is within ${FAVORITE_NEARBY_RADIUS_M} m`);
	const info = h("p", { class: "hint" });
	el.replaceChildren(h("h2", {}, "Alerts"), add, info, list, feed);
	let watchId: number | undefined;

	function shareHere(): void {
		if (watchId !== undefined || !("geolocation" in navigator)) return;
		watchId = navigator.geolocation.watchPosition(p => deps.live.shareHere(p.coords.latitude, p.coords.longitude));
	}

	async function refresh(): Promise<void> {
		const { rows } = await sendJson<{ rows: Alert[] }>("GET", "api/me/alerts", await authed());
		list.replaceChildren(
			...rows.map(alert => {
				const remove = h("button", { type: "button", class: "remove", "aria-label": "Remove alert" }, "×");
				remove.addEventListener("click", async () => {
					await sendJson("DELETE", `api/me/alerts/${encodeURIComponent(alert.id)}`, await authed());
					await refresh();
				});
				return h("li", { "data-id": alert.id }, describe(alert), remove);
			})
		);
		if (rows.some(a => a.kind === "vendor_nearby" && a.at === "here")) shareHere();
	}

	add.addEventListener("click", async () => {
		const here = await currentPosition();
		const input: AlertInput = {
			kind: "vendor_nearby",
			vendor: { favorites: true },
			radius: FAVORITE_NEARBY_RADIUS_M,
			at: here ? "here" : deps.centre(),
		};
		try {
			await sendJson("POST", "api/me/alerts", await authed(), input);
			if (here) deps.live.shareHere(here.lat, here.lng);
			info.textContent = here
				? "Around you, while this page is open."
				: "Around the map's centre (your browser did not share its position).";
			await refresh();
		} catch (err) {
			info.textContent = `Could not set the alert: ${(err as Error).message}`;
		}
	});

	deps.live.on("alert", (frame: AlertFrame) => {
		const verb = frame.transition === "exit" ? "left" : frame.transition === "dwell" ? "is staying" : "is";
		const text = (name: string) => `${name} ${verb} ${formatDistance(frame.distance)} away`;
		const item = h("li", { class: `fired ${frame.transition}`, "data-vendor": frame.vendorId }, text("A favourite"));
		void deps.vendorName(frame.vendorId).then(name => (item.textContent = text(name)));
		item.addEventListener("click", () => deps.onPick(frame.vendorId));
		feed.prepend(item);
		while (feed.children.length > FEED_LENGTH) feed.lastElementChild?.remove();
	});
	await refresh().catch(err => (info.textContent = `Could not load your alerts: ${(err as Error).message}`));
}
