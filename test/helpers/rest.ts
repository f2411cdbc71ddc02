import { waitFor } from "./engine.ts";
import { assertMatchesSpec } from "./openapi.ts";

export type RestResponse<T = any> = { status: number; body: T; headers: Headers };

/** A small JSON client for the REST gateway; `token` is sent as a bearer token. Each answer is checked against docs/openapi.json. */
export function restClient(baseUrl: string) {
	async function request<T = any>(
		method: string,
		path: string,
		opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}
	): Promise<RestResponse<T>> {
		const headers: Record<string, string> = { ...opts.headers };
		if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
		let body: string | undefined;
		if (opts.raw !== undefined) body = opts.raw;
		else if (opts.body !== undefined) body = JSON.stringify(opts.body);
		if (body !== undefined) headers["Content-Type"] = "application/json";
		const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
		const text = await res.text();
		const parsed = text ? JSON.parse(text) : undefined;
		// Every answer a test gets is what docs/openapi.json says it is.
		assertMatchesSpec(method, path, res.status, res.headers.get("content-type"), parsed);
		return { status: res.status, body: parsed, headers: res.headers };
	}
	return {
		request,
		get: <T = any>(path: string, token?: string) => request<T>("GET", path, { token }),
		post: <T = any>(path: string, body: unknown, token?: string) => request<T>("POST", path, { body, token }),
		patch: <T = any>(path: string, body: unknown, token?: string) => request<T>("PATCH", path, { body, token }),
		put: <T = any>(path: string, token?: string) => request<T>("PUT", path, { token }),
		del: <T = any>(path: string, token?: string) => request<T>("DELETE", path, { token }),
	};
}

/** moleculer-web builds the REST aliases shortly after start; wait until the marketplace routes answer. */
export async function waitForMarketplaceRoutes(baseUrl: string): Promise<void> {
	await waitFor(async () => (await fetch(`${baseUrl}/api/vendors`)).status === 200, { what: "marketplace REST routes" });
}
