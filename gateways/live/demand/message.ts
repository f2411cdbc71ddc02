import { cellToParent, getResolution, isValidCell } from "h3-js";
import { demandLevels } from "../../../lib/demand.ts";
import { jsonNestsDeeperThan } from "../../../lib/json.ts";
import { ROUTING_RES_OFFSET } from "../cells.ts";
import type { AreaCounts } from "./counts.ts";

/**
 * The demand messages between live nodes (JSON over NATS). A node's counts of one routing cell:
 * `{"n":node,"i":instance,"s":seq,"f":[[cell,n]…],"c":[[cell,n]…]}` on `<namespace>.demand.<routing>`;
 * an ask answer holds several: `{"n","i","a":[{"r":routing,"s","f","c"}…]}`. `n` is the Moleculer
 * nodeID, `i` the process (a restarted node starts its sequence again), `s` grows with every
 * message the process sends. Decoding never throws: a malformed message is null.
 */
export type NodeCounts = { node: string; instance: string; seq: number; counts: AreaCounts };
export type AskAnswer = { node: string; instance: string; areas: { routing: string; seq: number; counts: AreaCounts }[] };

/** Most routing cells in one ask (an answer of that many dense areas stays well under NATS' 1 MB payload). */
export const ASK_MAX_ROUTING_CELLS = 20;
/** Fine cells under one routing cell: 7³ hexagons; a little room. */
const MAX_FINE_ENTRIES = 400;
const MAX_COARSE_ENTRIES = 10;
const MAX_WATCHERS = 10_000_000;
const MAX_COUNTS_BYTES = 32 * 1024;
const MAX_ANSWER_BYTES = ASK_MAX_ROUTING_CELLS * MAX_COUNTS_BYTES;
const MAX_ID_LENGTH = 128;
const MAX_DEPTH = 5;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const entries = (map: Map<string, number>): [string, number][] => [...map];

export function encodeCounts(node: string, instance: string, seq: number, counts: AreaCounts | undefined): Uint8Array {
	return encoder.encode(
		JSON.stringify({ n: node, i: instance, s: seq, f: counts ? entries(counts.fine) : [], c: counts ? entries(counts.coarse) : [] })
	);
}

export function encodeAnswer(node: string, instance: string, areas: { routing: string; seq: number; counts: AreaCounts }[]): Uint8Array {
	const a = areas.map(({ routing, seq, counts }) => ({ r: routing, s: seq, f: entries(counts.fine), c: entries(counts.coarse) }));
	return encoder.encode(JSON.stringify({ n: node, i: instance, a }));
}

export const encodeAsk = (routings: readonly string[]): Uint8Array => encoder.encode(JSON.stringify(routings));

/** The checks of one message, for one node configuration (H3_RES). */
export class DemandCodec {
	readonly #fineRes: number;
	readonly #coarseRes: number;
	readonly #routingRes: number;

	constructor(h3Res: number) {
		const { fine, coarse } = demandLevels(h3Res);
		this.#fineRes = fine;
		this.#coarseRes = coarse;
		this.#routingRes = Math.max(0, h3Res - ROUTING_RES_OFFSET);
	}

	/** A node's counts of `routing` (the subject's routing cell); null when malformed or not about it. */
	counts(data: Uint8Array, routing: string): NodeCounts | null {
		const msg = parse(data, MAX_COUNTS_BYTES);
		if (!isObject(msg) || !isId(msg.n) || !isId(msg.i)) return null;
		const area = this.#area(msg, routing);
		return area && { node: msg.n, instance: msg.i, seq: area.seq, counts: area.counts };
	}

	/** An answer to an ask; null when malformed (an area not asked for makes it malformed too). */
	answer(data: Uint8Array, asked: ReadonlySet<string>): AskAnswer | null {
		const msg = parse(data, MAX_ANSWER_BYTES);
		if (!isObject(msg) || !isId(msg.n) || !isId(msg.i) || !Array.isArray(msg.a) || msg.a.length > ASK_MAX_ROUTING_CELLS) return null;
		const areas: AskAnswer["areas"] = [];
		for (const item of msg.a) {
			if (!isObject(item) || typeof item.r !== "string" || !asked.has(item.r)) return null;
			const area = this.#area(item, item.r);
			if (!area) return null;
			areas.push({ routing: item.r, ...area });
		}
		return { node: msg.n, instance: msg.i, areas };
	}

	/** The routing cells of an ask (each a valid routing cell); null when malformed. */
	ask(data: Uint8Array): string[] | null {
		const msg = parse(data, ASK_MAX_ROUTING_CELLS * 32);
		if (!Array.isArray(msg) || msg.length > ASK_MAX_ROUTING_CELLS) return null;
		return msg.every(r => this.#isCell(r, this.#routingRes)) ? (msg as string[]) : null;
	}

	#area(msg: Record<string, unknown>, routing: string): { seq: number; counts: AreaCounts } | null {
		if (!Number.isSafeInteger(msg.s) || (msg.s as number) < 0) return null;
		const fine = this.#entries(msg.f, this.#fineRes, MAX_FINE_ENTRIES, routing);
		const coarse = this.#entries(msg.c, this.#coarseRes, MAX_COARSE_ENTRIES, routing);
		return fine && coarse ? { seq: msg.s as number, counts: { fine, coarse } } : null;
	}

	/** `[[cell, n]…]` of cells at `res` under `routing`, n a positive integer. */
	#entries(value: unknown, res: number, max: number, routing: string): Map<string, number> | null {
		if (!Array.isArray(value) || value.length > max) return null;
		const map = new Map<string, number>();
		for (const entry of value) {
			if (!Array.isArray(entry) || entry.length !== 2) return null;
			const [cell, n] = entry as unknown[];
			if (!this.#isCell(cell, res) || cellToParent(cell, this.#routingRes) !== routing) return null;
			if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_WATCHERS) return null;
			map.set(cell, n as number);
		}
		return map;
	}

	#isCell(value: unknown, res: number): value is string {
		return typeof value === "string" && value.length <= 16 && isValidCell(value) && getResolution(value) === res;
	}
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= MAX_ID_LENGTH;

function parse(data: Uint8Array, maxBytes: number): unknown {
	if (data.length > maxBytes || jsonNestsDeeperThan(data, MAX_DEPTH)) return undefined;
	try {
		return JSON.parse(decoder.decode(data));
	} catch {
		return undefined;
	}
}
