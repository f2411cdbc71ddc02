import { ApiError, getVendor, type Vendor } from "./api.ts";
import { formatAge, h } from "./dom.ts";
import type { VendorInView } from "@venta/client";
import { favoriteButton, type Favorites } from "./favorites.ts";

/**
 * The vendor card: profile from REST (name, categories, rating, subscription) plus the age of
 * the live position, ticking every second while the card is open.
 */
export function createVendorCard(
	el: HTMLElement,
	livePosition: (id: string) => VendorInView | undefined,
	onClose: () => void,
	favorites: () => Favorites | undefined
) {
	let current: string | undefined;
	let ticker: ReturnType<typeof setInterval> | undefined;

	function renderAge(id: string): void {
		const age = el.querySelector<HTMLElement>(".age");
		if (!age) return;
		const p = livePosition(id);
		age.textContent = p ? `position ${formatAge(Date.now() - p.ts)}` : "not live in view";
		age.classList.toggle("offline", !p);
	}

	function render(v: Vendor): void {
		const stars = v.rating.count ? `★ ${v.rating.average.toFixed(1)} (${v.rating.count})` : "no reviews yet";
		el.replaceChildren(
			h("button", { class: "close", type: "button", "aria-label": "Close" }, "×"),
			h("h2", { class: "name" }, v.name),
			h(
				"p",
				{ class: "badges" },
				h(
					"span",
					{ class: `badge ${v.subscription.active ? "subscribed" : "unsubscribed"}` },
					v.subscription.active ? "subscribed" : "no subscription"
				),
				h("span", { class: `badge status-${v.status}` }, v.status)
			),
			h("p", { class: "categories" }, ...v.categories.map(c => h("span", { class: "chip" }, c))),
			h("p", { class: "rating" }, stars),
			h("p", { class: "description" }, v.description ?? ""),
			h("p", { class: "age" }),
			...favoriteButton(favorites(), v.id)
		);
		el.querySelector(".close")!.addEventListener("click", () => {
			hide();
			onClose();
		});
		renderAge(v.id);
	}

	function hide(): void {
		current = undefined;
		clearInterval(ticker);
		el.hidden = true;
		el.replaceChildren();
	}

	return {
		async show(id: string): Promise<void> {
			current = id;
			clearInterval(ticker);
			el.hidden = false;
			el.dataset.id = id;
			el.replaceChildren(h("p", { class: "loading" }, "Loading vendor…"));
			try {
				const vendor = await getVendor(id);
				if (current !== id) return;
				render(vendor);
				ticker = setInterval(() => renderAge(id), 1000);
			} catch (err) {
				if (current !== id) return;
				const message =
					err instanceof ApiError && err.status === 404
						? "This vendor no longer exists."
						: `Could not load the vendor: ${(err as Error).message}`;
				el.replaceChildren(h("p", { class: "error" }, message));
			}
		},
		hide,
		get current() {
			return current;
		},
	};
}
