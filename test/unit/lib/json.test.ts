import { describe, expect, it } from "vitest";
import { jsonNestsDeeperThan } from "../../../lib/json.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("jsonNestsDeeperThan", () => {
	it("counts objects and arrays, not brackets inside strings", () => {
		expect(jsonNestsDeeperThan(bytes('{"a":[1,{"b":2}]}'), 3)).toBe(false);
		expect(jsonNestsDeeperThan(bytes('{"a":[1,{"b":2}]}'), 2)).toBe(true);
		expect(jsonNestsDeeperThan(bytes('{"a":"[[[[[[[[[[{{{{{"}'), 1)).toBe(false);
		expect(jsonNestsDeeperThan(bytes('{"a":"\\"[[[[[[[["}'), 1)).toBe(false);
	});

	it("answers for a hostile frame of a million levels in one pass, without recursion", () => {
		const deep = bytes(`${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`);
		expect(jsonNestsDeeperThan(deep, 64)).toBe(true);
		expect(jsonNestsDeeperThan(bytes("[]"), 1)).toBe(false);
		expect(jsonNestsDeeperThan(bytes(""), 0)).toBe(false);
	});
});
