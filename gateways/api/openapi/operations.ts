import type { JsonSchema, RestDoc } from "../../../lib/openapi.ts";
import { errorRef, rateLimitHeaderRefs, type SchemaRegistry } from "./components.ts";
import { fieldNames, isOptional, objectSchema, ruleToSchema, type Params, type Rule } from "./fastest-validator.ts";

/** One route the gateway serves, as the document needs it (from moleculer-web's alias and its route). */
export type RouteInfo = {
	method: string;
	/** `/api/vendors/:id` */
	fullPath: string;
	/** The action it calls; null for the gateway's own handlers. */
	action: string | null;
	/** The route counts requests (rate-limit headers, 429). */
	rateLimited: boolean;
	/** The route reads bearer tokens (401 for a bad one, on any of its routes). */
	authenticated: boolean;
	/** Query, body and path make the action's params (false: the route hands over the raw request, as /webhooks does). */
	paramsFromRequest: boolean;
};

/** What the registry knows of an action (local or remote). */
export type ActionInfo = { params?: Params; auth?: string; owns?: unknown; roles?: readonly string[]; openapi?: RestDoc };

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** `/api/vendors/:id` → `/api/vendors/{id}` */
export const openApiPath = (fullPath: string) => fullPath.replace(/:(\w+)/g, "{$1}");
const pathParamNames = (fullPath: string) => [...fullPath.matchAll(/:(\w+)/g)].map(m => m[1]!);

const SUCCESS_TEXT: Record<number, string> = { 200: "OK", 201: "Created (the Location header names it)" };

/** Who may call: the words of docs/rest-api.md's access column. */
function accessOf(action: ActionInfo, route: RouteInfo): string {
	if (!route.authenticated) return "signature: the sender's own check, no token";
	if (action.owns) return "owner: the vendor's owner or an admin";
	if (action.roles) return `role: ${action.roles.join(" or ")}`;
	return action.auth === "required" ? "token: any signed-in user" : "public (a token, when sent, must be valid)";
}

function needsCaller(action: ActionInfo): boolean {
	return action.auth === "required" || Boolean(action.owns) || Boolean(action.roles);
}

/** The error statuses a route can answer: those every route of its kind shares, and the action's own. */
function errorStatuses(route: RouteInfo, action: ActionInfo, hasPathParams: boolean): number[] {
	const statuses = new Set<number>([503, 504, ...(action.openapi?.errors ?? [])]);
	const add = (when: boolean, ...codes: number[]) => {
		if (when) for (const code of codes) statuses.add(code);
	};
	add(route.rateLimited, 429);
	add(route.authenticated || needsCaller(action), 401);
	add(route.paramsFromRequest && action.params !== undefined, 422);
	add(BODY_METHODS.has(route.method), 400, 413, 415);
	add(hasPathParams || Boolean(action.owns), 404);
	add(Boolean(action.owns) || Boolean(action.roles), 403);
	return [...statuses].sort((a, b) => a - b);
}

/** The body: the params that are not in the path, and what the action declares it checks itself. */
function bodySchema(action: ActionInfo, fields: string[], params: Params, schemas: SchemaRegistry): JsonSchema | undefined {
	const declared = action.openapi?.body;
	const fromParams =
		fields.length > 0 ? objectSchema(Object.fromEntries(fields.map(name => [name, params[name]!])), params.$$strict === true) : undefined;
	if (fromParams && declared) return { allOf: [fromParams, schemas.ref(declared)] };
	if (declared) return schemas.ref(declared);
	return fromParams;
}

function parameters(route: RouteInfo, action: ActionInfo, queryFields: string[]) {
	const params = action.params ?? {};
	const inPath = pathParamNames(route.fullPath).map(name => ({
		name,
		in: "path",
		required: true,
		schema: ruleToSchema((params[name] as Rule | undefined) ?? "string"),
	}));
	const inQuery = queryFields.map(name => ({
		name,
		in: "query",
		required: !isOptional(params[name] as Rule),
		schema: ruleToSchema(params[name] as Rule),
	}));
	const headers = Object.entries(action.openapi?.headers ?? {}).map(([name, description]) => ({
		name,
		in: "header",
		description,
		schema: { type: "string" },
	}));
	return [...inPath, ...inQuery, ...headers];
}

function responses(route: RouteInfo, action: ActionInfo, schemas: SchemaRegistry, hasPathParams: boolean) {
	const answers: Record<string, object> = {};
	for (const [status, schema] of Object.entries(action.openapi?.responses ?? {})) {
		const location = status === "201" ? { Location: { description: "Where the created resource is", schema: { type: "string" } } } : {};
		const headers = { ...(route.rateLimited ? rateLimitHeaderRefs(false) : {}), ...location };
		answers[status] = {
			description: SUCCESS_TEXT[Number(status)] ?? "OK",
			...(Object.keys(headers).length > 0 ? { headers } : {}),
			content: { "application/json": { schema: schemas.ref(schema) } },
		};
	}
	for (const status of errorStatuses(route, action, hasPathParams)) answers[String(status)] = errorRef(status);
	return answers;
}

/** The operation of a route that calls `actionName`. */
export function actionOperation(route: RouteInfo, actionName: string, action: ActionInfo, schemas: SchemaRegistry): object {
	const params = action.params ?? {};
	const pathNames = pathParamNames(route.fullPath);
	const fields = route.paramsFromRequest ? fieldNames(params).filter(name => !pathNames.includes(name)) : [];
	const withBody = BODY_METHODS.has(route.method);
	const body = withBody ? bodySchema(action, fields, params, schemas) : undefined;
	const security = !route.authenticated ? [] : needsCaller(action) ? [{ bearerAuth: [] }] : [{}, { bearerAuth: [] }];
	return {
		operationId: actionName,
		tags: [actionName.split(".")[0]],
		description: `Access: ${accessOf(action, route)}.`,
		parameters: parameters(route, action, withBody ? [] : fields),
		...(body ? { requestBody: { required: true, content: { "application/json": { schema: body } } } } : {}),
		security,
		responses: responses(route, action, schemas, pathNames.length > 0),
	};
}
