import { Validators } from "moleculer";

type CheckerFunction = ReturnType<Validators.Fastest["compile"]>;
type Problem = { type: string; field: string; message: string; actual: null };

/** A top-level rule that may be left out but says nothing of null. */
function optionalNotNullable(rule: unknown): boolean {
	if (typeof rule === "string") {
		const parts = rule.split("|");
		return parts.includes("optional") && !parts.includes("nullable");
	}
	if (typeof rule !== "object" || rule === null || Array.isArray(rule)) return false;
	const r = rule as { optional?: unknown; nullable?: unknown };
	return r.optional === true && r.nullable !== true;
}

/**
 * fastest-validator with one rule of ours: an optional param is optional, not nullable. Out of the
 * box an optional field accepts `null` (and a handler then stores it); here `null` is refused
 * (422) unless the rule says `nullable: true`, where `null` means "clear this field".
 */
export class ParamsValidator extends Validators.Fastest {
	override compile(schema: Record<string, unknown>): CheckerFunction {
		const check = super.compile(schema);
		const fields = Object.keys(schema).filter(key => !key.startsWith("$$") && optionalNotNullable(schema[key]));
		if (fields.length === 0 || check.async) return check;
		const guarded = (params: Record<string, unknown>, opts?: Parameters<CheckerFunction>[1]) => {
			const nulls = fields.filter(field => params[field] === null);
			if (nulls.length === 0) return check(params, opts);
			const problems: Problem[] = nulls.map(field => ({
				type: "nullable",
				field,
				message: `The '${field}' field must not be null.`,
				actual: null,
			}));
			return problems as unknown as boolean;
		};
		return guarded as CheckerFunction;
	}
}
