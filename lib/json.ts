/**
 * Bounds on untrusted JSON before anything recursive (JSON.stringify, validators, the serializer
 * between nodes) sees it: the nesting depth is counted in one pass over the bytes, strings skipped,
 * without recursion.
 */

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether the JSON text nests objects and arrays deeper than `max` (it need not be valid JSON). */
export function jsonNestsDeeperThan(bytes: Uint8Array, max: number): boolean {
	let depth = 0;
	let inString = false;
	for (let i = 0; i < bytes.length; i++) {
		const b = bytes[i];
		if (inString) {
			if (b === BACKSLASH) i++;
			else if (b === QUOTE) inString = false;
		} else if (b === QUOTE) inString = true;
		else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
			if (++depth > max) return true;
		} else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) depth--;
	}
	return false;
}
