import { Errors } from "moleculer";

/**
 * The errors callers see, one helper per kind: `MoleculerClientError(message, status, CODE, data)`
 * for the caller's mistakes, `MoleculerError(…, 503, …)` for a dependency that is down. Every
 * HTTP surface answers them with the same body (`errorBody`). Messages never quote untrusted
 * input beyond a short prefix.
 */

/** The body of every error answer, on the REST gateway and on the live gateway's HTTP port. */
export type ErrorBody = { name: string; message: string; code: number; type: string; data?: unknown };

/** ErrorBody as JSON Schema (the OpenAPI document's `ErrorBody`). */
export const ERROR_BODY_SCHEMA = {
	title: "ErrorBody",
	type: "object",
	additionalProperties: false,
	required: ["name", "message", "code", "type"],
	properties: {
		name: { type: "string" },
		message: { type: "string" },
		code: { type: "integer", minimum: 400, maximum: 599, description: "The HTTP status." },
		type: { type: "string", pattern: "^[A-Z][A-Z0-9_]*$", description: "The machine-readable reason (docs/rest-api.md)." },
		data: { description: "Details: for VALIDATION_ERROR the list of `{ type, field, message }`." },
	},
} as const;

/** One problem with one field of the input (what a 422 lists in `data`). */
export type FieldProblem = { type: string; field: string; message: string };

export const badRequest = (message: string, type = "BAD_REQUEST", data?: unknown) =>
	new Errors.MoleculerClientError(message, 400, type, data);

/** 422, like fastest-validator's own: `data` lists the fields. */
export const validationError = (message: string, problems: FieldProblem[]) =>
	new Errors.ValidationError(message, "VALIDATION_ERROR", problems);

export const unauthorized = (message: string, type = "INVALID_TOKEN") => new Errors.MoleculerClientError(message, 401, type);

export const noToken = (message = "A bearer token is required") => new Errors.MoleculerClientError(message, 401, "NO_TOKEN");

export const forbidden = (message = "Not allowed", type = "FORBIDDEN") => new Errors.MoleculerClientError(message, 403, type);

export const notFound = (message: string, data?: unknown) => new Errors.MoleculerClientError(message, 404, "NOT_FOUND", data);

export const conflict = (message: string, data?: unknown, type = "CONFLICT") => new Errors.MoleculerClientError(message, 409, type, data);

export const rateLimited = (message: string, data?: unknown) => new Errors.MoleculerClientError(message, 429, "RATE_LIMITED", data);

/** A dependency is down or not configured: the caller may retry later. */
export const unavailable = (message: string, type = "SERVICE_UNAVAILABLE", data?: unknown) =>
	new Errors.MoleculerError(message, 503, type, data);

/** Longest piece of untrusted text an error message may quote. */
export const QUOTE_MAX = 32;

/** A short, printable prefix of untrusted text for a message. */
export function quote(text: string): string {
	const printable = text.slice(0, QUOTE_MAX).replace(/[^\x20-\x7e]/g, "?");
	return JSON.stringify(text.length > QUOTE_MAX ? `${printable}…` : printable);
}

/** The `type` of an error that names none (e.g. one of moleculer-web's own): its status in words. */
const STATUS_TYPES: Record<number, string> = {
	400: "BAD_REQUEST",
	401: "UNAUTHORIZED",
	403: "FORBIDDEN",
	404: "NOT_FOUND",
	409: "CONFLICT",
	413: "PAYLOAD_TOO_LARGE",
	415: "UNSUPPORTED_MEDIA_TYPE",
	422: "VALIDATION_ERROR",
	429: "RATE_LIMITED",
	503: "SERVICE_UNAVAILABLE",
	504: "GATEWAY_TIMEOUT",
};

/**
 * The answer body of an error: its status when it is an HTTP status, else 500 with no detail.
 * A service that is not running or not reachable (Moleculer says 404) is a 503: the route exists.
 */
export function errorBody(err: unknown): ErrorBody {
	if (err instanceof Errors.ServiceNotFoundError || err instanceof Errors.ServiceNotAvailableError)
		return errorBody(unavailable("A service this request needs is not reachable; retry"));
	const e = err as Partial<Errors.MoleculerError> & { status?: unknown };
	// Moleculer errors carry the status in `code`; HTTP libraries' (body-parser's) in `status`.
	const given = typeof e.code === "number" ? e.code : e.status;
	const status = typeof given === "number" && given >= 400 && given < 600 ? given : 500;
	if (status === 500) return { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" };
	// Our types are UPPER_SNAKE; a library's own (`entity.parse.failed`) is replaced by its status in words.
	const type = e.type && /^[A-Z][A-Z0-9_]*$/.test(e.type) ? e.type : (STATUS_TYPES[status] ?? "ERROR");
	return {
		name: e.name ?? "MoleculerError",
		message: e.message ?? "",
		code: status,
		type,
		...(e.data === undefined ? {} : { data: status === 422 && Array.isArray(e.data) ? e.data.map(fieldProblem) : e.data }),
	};
}

/**
 * One validation problem as an answer shows it: type, field and message only. fastest-validator
 * also carries the value it refused (`actual`), and names refused keys in the message of strict
 * objects: untrusted text, so it is dropped, or quoted short (name characters only).
 */
function fieldProblem(problem: unknown): FieldProblem {
	const { type, field, message, actual } = problem as Partial<FieldProblem> & { actual?: unknown };
	const said =
		type === "objectStrict"
			? `Unknown parameter(s): ${String(actual ?? "")
					.split(", ")
					.slice(0, 5)
					.map(key => quote(key.replace(/[^\w.-]/g, "?")))
					.join(", ")}`
			: String(message ?? "");
	return { type: String(type ?? "invalid"), field: String(field ?? "").slice(0, 100), message: said.slice(0, 300) };
}

/** A write with nothing in it (PATCH with an empty body). */
export const nothingToChange = () =>
	validationError("Nothing to change", [{ type: "required", field: "body", message: "Send at least one field to change." }]);

/** A box that is not `w,s,e,n` in range (422 on the `bbox` field). */
export const invalidBBox = () =>
	validationError("bbox must be w,s,e,n: lng in [-180, 180] (w > e crosses the antimeridian), lat in [-90, 90], s < n", [
		{ type: "bbox", field: "bbox", message: "invalid bbox" },
	]);

/**
 * A call to a service that is not in the mesh answers `fallback` (no geo: no live positions; no
 * live gateway: nobody watches); any other failure stays one.
 */
export function orWhenAbsent<T>(call: Promise<T>, fallback: T): Promise<T> {
	return call.catch((err: unknown) => {
		if (err instanceof Errors.ServiceNotFoundError) return fallback;
		throw err;
	});
}
