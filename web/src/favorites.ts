import type { TokenProvider } from "@venta/client";
import { askToken, sendJson } from "./api.ts";
import { h } from "./dom.ts";

/** The signed-in customer's favourite vendor ids: loaded once, toggled from the vendor card. */
export type Favorites = {
	has(id: string): boolean;
	/** Adds or removes; resolves with whether the vendor is a favourite now. */
	toggle(id: string): Promise<boolean>;
};

/** None when the page has no session: the card then shows no favourite button. */
export async function loadFavorites(getToken: TokenProvider): Promise<Favorites | undefined> {
	const token = await askToken(getToken);
	if (!token) return undefined;
	const ids = new Set((await sendJson<{ rows: { id: string }[] }>("GET", "api/me/favorites", token)).rows.map(v => v.id));
	return {
		has: id => ids.has(id),
		async toggle(id) {
			const fresh = (await askToken(getToken)) ?? token;
			const method = ids.has(id) ? "DELETE" : "PUT";
			const { favorites } = await sendJson<{ favorites: string[] }>(method, `api/me/favorites/${encodeURIComponent(id)}`, fresh);
			ids.clear();
			for (const f of favorites) ids.add(f);
			return ids.has(id);
		},
	};
}

/** The card's ☆/★ toggle for a signed-in customer; nothing without a session. */
export function favoriteButton(favs: Favorites | undefined, id: string): HTMLElement[] {
	if (!favs) return [];
	const label = (on: boolean) => (on ? "★ Favourite" : "☆ Add to favourites");
	const button = h("button", { class: "favorite", type: "button", "aria-pressed": String(favs.has(id)) }, label(favs.has(id)));
	button.addEventListener("click", async () => {
		try {
			const on = await favs.toggle(id);
			button.textContent = label(on);
			button.setAttribute("aria-pressed", String(on));
		} catch (err) {
			button.textContent = `Could not save: ${(err as Error).message}`;
		}
	});
	return [button];
}
