import { describe, expect, it } from "vitest";
import { Errors, Validators } from "moleculer";
import { errorBody, notFound, quote, QUOTE_MAX, unavailable, validationError } from "../../../lib/errors.ts";

describe("the one error body", () => {
	it("keeps a caller's mistake as it is: status, code, data", () => {
		expect(errorBody(notFound("Vendor ven_1 not found", { id: "ven_1" }))).toEqual({
			name: "MoleculerClientError",
			message: "Vendor ven_1 not found",
			code: 404,
			type: "NOT_FOUND",
			data: { id: "ven_1" },
		});
		expect(errorBody(validationError("Invalid position", [{ type: "position", field: "lat", message: "lat must be …" }]))).toMatchObject({
			name: "ValidationError",
			code: 422,
			type: "VALIDATION_ERROR",
			data: [{ field: "lat" }],
		});
	});

	it("names the type of an error that has none by its status", () => {
		expect(errorBody(new Errors.MoleculerError("Service unavailable", 503))).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });
		expect(errorBody(unavailable("down", "WEBHOOK_APPLY_FAILED"))).toMatchObject({ code: 503, type: "WEBHOOK_APPLY_FAILED" });
	});

	it("answers a service that is not running or not reachable with 503, not Moleculer's 404", () => {
		const expected = { code: 503, type: "SERVICE_UNAVAILABLE", message: "A service this request needs is not reachable; retry" };
		expect(errorBody(new Errors.ServiceNotFoundError({ action: "geo.nearby" }))).toMatchObject(expected);
		expect(errorBody(new Errors.ServiceNotAvailableError({ action: "geo.nearby", nodeID: "geo-1" }))).toMatchObject(expected);
	});

	it("says nothing of an internal error but that it happened", () => {
		expect(errorBody(new RangeError("Maximum call stack size exceeded"))).toEqual({
			name: "InternalServerError",
			message: "Internal server error",
			code: 500,
			type: "INTERNAL_ERROR",
		});
		expect(errorBody(new Errors.MoleculerError("db password wrong", 500))).toMatchObject({ code: 500, message: "Internal server error" });
	});

	it("never sends back the value a validation refused, and quotes refused keys short", () => {
		const check = new Validators.Fastest().compile({ $$strict: true, lat: "number" });
		const marker = `EVIL<script>${"x".repeat(200)}`;
		const problems = check({ lat: marker, [marker]: 1 }) as unknown as unknown[];
		const body = errorBody(new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", problems));
		const text = JSON.stringify(body);
		expect(text).not.toContain("<script>");
		expect(text).not.toContain("x".repeat(QUOTE_MAX + 1));
		expect(body.data).toEqual(
			expect.arrayContaining([
				{ type: "objectStrict", field: "", message: expect.stringMatching(/^Unknown parameter\(s\): "EVIL\?script\?x/) },
				{ type: "number", field: "lat", message: "The 'lat' field must be a number." },
			])
		);
	});

	it("quotes untrusted text short and printable", () => {
		expect(quote("dance")).toBe('"dance"');
		const long = quote(`${"x".repeat(100)}\u0000`);
		expect(long.length).toBeLessThanOrEqual(QUOTE_MAX + 3);
		expect(quote("a\nb")).toBe('"a?b"');
	});
});
