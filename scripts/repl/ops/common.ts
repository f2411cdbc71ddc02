import { isValidCell } from "h3-js";
import type { CallingOptions } from "moleculer";
import { parseBBox as parseBox, type BBox } from "../../../lib/geo.ts";
import type { Caller } from "../../../lib/identity.ts";

/**
 * Operations on a running cluster, as plain rows: what the REPL prints and what tests assert.
 * Every figure comes from an action of the service that owns it (live nodes report their own
 * sockets and counters); nothing here reads another node's memory.
 */

export const WORLD: BBox = [-180, -90, 180, 90];
/** Calls from the REPL fail fast instead of retrying for a minute against a dead node. */
export const CALL: CallingOptions = { timeout: 10_000, retries: 0 };

export class OpsError extends Error {
	override name = "OpsError";
}

/** Calling options of a privileged operation: the operator's identity travels with the call (services refuse it without). */
export const asOperator = (operator: Caller): CallingOptions => ({ ...CALL, meta: { user: operator } });

/** Parses `w,s,e,n` (degrees, w < e, s < n): the filters of the REPL do not cross the antimeridian. */
export function parseBBox(text: string): BBox {
	const bbox = parseBox(text);
	if (!bbox || bbox[0] >= bbox[2]) throw new OpsError(`bbox must be w,s,e,n in degrees with w < e and s < n, got "${text}"`);
	return bbox;
}

export function checkCell(cell: string): string {
	if (!isValidCell(cell)) throw new OpsError(`"${cell}" is not an H3 cell id`);
	return cell;
}

/** Seconds since `ts`, to a tenth. */
export const ageSeconds = (ts: number, now: number) => Math.max(0, Math.round((now - ts) / 100) / 10);
