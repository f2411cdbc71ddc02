import createClient, { type Client } from "openapi-fetch";
import type { TokenProvider } from "../live/client.ts";
import type { components, paths } from "./openapi.ts";

export type { components, operations, paths } from "./openapi.ts";

/** A schema of the REST API by name: `Schema<"Vendor">`, `Schema<"ErrorBody">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

/** openapi-fetch over the engine's spec (docs/openapi.json): every path, parameter and body typed. */
export type RestClient = Client<paths>;

export type RestOptions = {
	/** The engine's REST origin, e.g. `https://api.venta.example` (paths start with /api). */
	baseUrl: string;
	/** Asked before every request; its token goes in `Authorization: Bearer`. None (or null) = anonymous. */
	getToken?: TokenProvider;
	/** Defaults to the global fetch. */
	fetch?: (request: Request) => Promise<Response>;
};

/**
 * The typed REST client: `rest.GET("/api/vendors/{id}", { params: { path: { id } } })` answers
 * `{ data, error, response }`, `error` being the API's one error body (`Schema<"ErrorBody">`).
 */
export function createRestClient({ baseUrl, getToken, fetch }: RestOptions): RestClient {
	const client = createClient<paths>({ baseUrl, ...(fetch ? { fetch } : {}) });
	if (getToken) {
		client.use({
			async onRequest({ request }) {
				const token = await getToken();
				if (token) request.headers.set("Authorization", `Bearer ${token}`);
				return request;
			},
		});
	}
	return client;
}
