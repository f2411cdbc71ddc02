/** The zod parsers of environment variables: each turns a raw string (or nothing) into a value or one readable issue. */
import { z } from "zod";

export const optionalString = z
	.string()
	.optional()
	.transform(v => (v === undefined || v.trim() === "" ? undefined : v.trim()));

export const urlWithScheme = (schemes: string[]) =>
	optionalString.refine(
		v => v === undefined || schemes.some(s => v.startsWith(`${s}://`)),
		`must be a URL starting with ${schemes.map(s => `${s}://`).join(" or ")}`
	);

const parsesAsUrl = (v: string) => URL.canParse(v) && new URL(v).host !== "";

/** A comma list of URLs (the servers of one cluster), each with one of `schemes` and a host; kept as written. */
export const urlListWithScheme = (schemes: string[]) =>
	optionalString.refine(
		v => v === undefined || v.split(",").every(u => schemes.some(s => u.trim().startsWith(`${s}://`)) && parsesAsUrl(u.trim())),
		`must be a URL starting with ${schemes.map(s => `${s}://`).join(" or ")}, or a comma list of such URLs`
	);

export const integer = (fallback: number, min: number, max: number) =>
	optionalString.transform((v, ctx) => {
		if (v === undefined) return fallback;
		const n = Number(v);
		if (!Number.isInteger(n) || n < min || n > max) {
			ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got "${v}"` });
			return z.NEVER;
		}
		return n;
	});

export const positive = <F extends number | undefined>(fallback: F, max: number) =>
	optionalString.transform((v, ctx): number | F => {
		if (v === undefined) return fallback;
		const n = Number(v);
		if (!Number.isFinite(n) || n <= 0 || n > max) {
			ctx.addIssue({ code: "custom", message: `must be a number above 0 and at most ${max}, got "${v}"` });
			return z.NEVER;
		}
		return n;
	});

export const boolean = optionalString.transform((v, ctx) => {
	if (v === undefined) return false;
	if (/^(1|true|yes|on)$/i.test(v)) return true;
	if (/^(0|false|no|off)$/i.test(v)) return false;
	ctx.addIssue({ code: "custom", message: `must be true or false, got "${v}"` });
	return z.NEVER;
});

export const commaList = optionalString.transform(v =>
	v === undefined
		? []
		: v
				.split(",")
				.map(s => s.trim())
				.filter(Boolean)
);

/** Seconds before each retry of an outbound webhook: RevenueCat's own schedule (5, 10, 20, 40, 80 minutes) unless set. */
export const retrySchedule = commaList.transform((items, ctx) => {
	const seconds = items.length === 0 ? [300, 600, 1_200, 2_400, 4_800] : items.map(Number);
	if (seconds.length <= 20 && seconds.every(n => Number.isInteger(n) && n >= 1 && n <= 86_400)) return seconds;
	ctx.addIssue({ code: "custom", message: `must be 1 to 20 comma-separated whole seconds from 1 to 86400, got "${items.join(",")}"` });
	return z.NEVER;
});
