/**
 * What a REST action declares for the OpenAPI document that gateways/api/openapi builds: its
 * answers as JSON Schema (2020-12, the dialect of OpenAPI 3.1). Params, path, method, access and
 * the error statuses every route shares come from the action itself and the gateway's routes.
 */

/** A JSON Schema as the contracts write them (`as const` objects). A `title` names it in `components.schemas`. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** An action's `openapi` property (declared on Moleculer's ActionSchema in config/settings.ts). */
export type RestDoc = {
	/** Success answers by status: their body schema. */
	responses: { readonly [status: number]: JsonSchema };
	/** Error statuses the action gives beyond those every route of its kind shares (see gateways/api/openapi). */
	errors?: readonly number[];
	/** The body, when the action checks it in its handler instead of in `params` (`$$strict: false`), or receives it raw. */
	body?: JsonSchema;
	/** Request headers the action reads (webhook signatures), name → description. */
	headers?: { readonly [name: string]: string };
};

/** An ISO-8601 timestamp as the engine writes them. */
export const DATE_TIME = { type: "string", format: "date-time" } as const;
