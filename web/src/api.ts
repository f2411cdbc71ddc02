/** REST calls of the page (relative URLs, so the page also works behind a path prefix). */
import type { TokenProvider } from "@venta/client";
import type { DemandAnswer, NearbyAnswer, NearbyVendor } from "../../services/discovery/contract.ts";
import type { HeatmapResult } from "../../services/geo/contract.ts";
import type { User } from "../../services/users/contract.ts";
import type { Vendor } from "../../services/vendors/contract.ts";

/** What `GET /config.json` tells the page. */
export type PageConfig = {
	/** Tile URL template ({z}/{x}/{y}); null = no base map, plain background. */
	tilesUrl: string | null;
	/** Port of the live gateway on this host. */
	livePort: number;
	h3Res: number;
	watchMaxCells: number;
};

export type { Vendor, NearbyVendor };
export type HeatCell = HeatmapResult["cells"][number];

/** An error answer of the API, with its `type` (e.g. NOT_FOUND). */
export class ApiError extends Error {
	status: number;
	type: string | undefined;
	constructor(status: number, message: string, type?: string) {
		super(message);
		this.status = status;
		this.type = type;
	}
}

/** The JSON body of an answer; an error answer throws its ApiError. */
async function answerOf<T>(res: Response): Promise<T> {
	const body = (await res.json().catch(() => null)) as ({ message?: string; type?: string } & T) | null;
	if (!res.ok) throw new ApiError(res.status, body?.message ?? `${res.status} ${res.statusText}`, body?.type);
	return body as T;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
	return answerOf<T>(await fetch(path, { headers: { Accept: "application/json" }, signal: signal ?? null }));
}

/** The page session's token now; null when there is none or the source fails. */
export async function askToken(getToken: TokenProvider): Promise<string | null> {
	try {
		return (await getToken()) ?? null;
	} catch {
		return null;
	}
}

/** A call as the signed-in customer (bearer token from the page's session); the body, if any, as JSON. */
export async function sendJson<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
	const headers: Record<string, string> = { Accept: "application/json", Authorization: `Bearer ${token}` };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	return answerOf<T>(await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body) }));
}

export const loadPageConfig = () => getJson<PageConfig>("config.json");
export const getVendor = (id: string) => getJson<Vendor>(`api/vendors/${encodeURIComponent(id)}`);

export async function nearby(
	params: { lat: number; lng: number; radius: number; q: string; category: string; online: boolean },
	signal: AbortSignal
): Promise<NearbyAnswer> {
	const query = new URLSearchParams({ lat: params.lat.toFixed(6), lng: params.lng.toFixed(6), radius: String(Math.round(params.radius)) });
	if (params.q) query.set("q", params.q);
	if (params.category) query.set("category", params.category);
	if (params.online) query.set("online", "true");
	return getJson<NearbyAnswer>(`api/discovery/nearby?${query}`, signal);
}

export async function heatmap(bbox: readonly number[], res: number, signal: AbortSignal): Promise<HeatCell[]> {
	const query = new URLSearchParams({ bbox: bbox.map(v => v.toFixed(5)).join(","), res: String(res) });
	return (await getJson<HeatmapResult>(`api/discovery/heatmap?${query}`, signal)).cells;
}

/** The signed-in user (its `role` decides what the page offers). */
export const getMe = (token: string) => sendJson<User>("GET", "api/me", token);

/** Watchers per cell of a box (vendor and admin accounts; a vendor only near its own vendors). */
export async function demand(bbox: readonly number[], res: number, token: string, signal: AbortSignal): Promise<DemandAnswer> {
	const query = new URLSearchParams({ bbox: bbox.map(v => v.toFixed(5)).join(","), res: String(res) });
	const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
	return answerOf<DemandAnswer>(await fetch(`api/discovery/demand?${query}`, { headers, signal }));
}
