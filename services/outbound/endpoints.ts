import { randomBytes } from "node:crypto";
import { conflict, notFound, validationError } from "../../lib/errors.ts";
import { newSecret } from "../../lib/standard-webhooks.ts";
import type { Store } from "../../mixins/db.mixin.ts";
import { MAX_ENDPOINT_URL, MAX_ENDPOINTS, type CreatedEndpoint, type EndpointInput, type WebhookEndpoint } from "./contract.ts";

/** An endpoint as stored: with its secret, which only the sender reads. */
export type EndpointDoc = Omit<WebhookEndpoint, "id"> & { _id: string; secret: string };

/** Every event reads the endpoints; a list this young is used as is (writes on this node clear it at once). */
const CACHE_MS = 5_000;

export const toEndpoint = ({ _id, secret: _secret, ...rest }: EndpointDoc): WebhookEndpoint => ({ id: _id, ...rest });

/** Why a URL is refused (null: fine): absolute http(s), a host, no credentials in it, bounded length. */
export function urlProblem(text: string): string | null {
	if (text.length > MAX_ENDPOINT_URL) return `must be at most ${MAX_ENDPOINT_URL} characters`;
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return "must be an absolute URL";
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return "must start with http:// or https://";
	if (!url.hostname) return "must name a host";
	if (url.username || url.password) return "must not carry credentials (the signature authenticates the sender)";
	return null;
}

const badUrl = (message: string) => validationError(`url ${message}`, [{ type: "url", field: "url", message: `url ${message}` }]);

/** Operators' webhook endpoints (the service's own collection). */
export class EndpointStore {
	readonly #store: Store;
	#cache: { at: number; docs: EndpointDoc[] } | null = null;

	constructor(store: Store) {
		this.#store = store;
	}

	async create(input: EndpointInput, createdBy: string): Promise<CreatedEndpoint> {
		const problem = urlProblem(input.url);
		if (problem) throw badUrl(problem);
		// Count, then insert: operators creating endpoints at the same moment can pass the cap together.
		// Harmless: it bounds the endpoints every event is matched against, and only privileged callers create them.
		if ((await this.#store.count({})) >= MAX_ENDPOINTS)
			throw conflict(`At most ${MAX_ENDPOINTS} webhook endpoints`, { max: MAX_ENDPOINTS }, "TOO_MANY_ENDPOINTS");
		const doc: EndpointDoc = {
			_id: `ep_${randomBytes(9).toString("base64url")}`,
			url: input.url,
			events: [...new Set(input.events)],
			enabled: input.enabled ?? true,
			description: input.description ?? null,
			createdAt: new Date().toISOString(),
			createdBy,
			secret: input.secret ?? newSecret(),
		};
		await this.#store.insert(doc);
		this.#cache = null;
		return { ...toEndpoint(doc), secret: doc.secret };
	}

	async list(): Promise<WebhookEndpoint[]> {
		return (await this.#all(true)).map(toEndpoint);
	}

	get(id: string): Promise<EndpointDoc | null> {
		return this.#store.findOne<EndpointDoc>({ _id: id });
	}

	async setEnabled(id: string, enabled: boolean): Promise<WebhookEndpoint> {
		if ((await this.#store.updateMany({ _id: id }, { $set: { enabled } })) === 0) throw notFound(`No webhook endpoint ${id}`, { id });
		this.#cache = null;
		return toEndpoint((await this.get(id))!);
	}

	async remove(id: string): Promise<void> {
		if ((await this.#store.removeMany({ _id: id })) === 0) throw notFound(`No webhook endpoint ${id}`, { id });
		this.#cache = null;
	}

	/** The enabled endpoints whose filter names `event`. */
	async matching(event: string): Promise<EndpointDoc[]> {
		return (await this.#all(false)).filter(doc => doc.enabled && doc.events.includes(event));
	}

	async #all(fresh: boolean): Promise<EndpointDoc[]> {
		if (!fresh && this.#cache && Date.now() - this.#cache.at < CACHE_MS) return this.#cache.docs;
		const docs = await this.#store.find<EndpointDoc>({ sort: ["createdAt"] });
		this.#cache = { at: Date.now(), docs };
		return docs;
	}
}
