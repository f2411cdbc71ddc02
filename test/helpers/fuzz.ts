import { latLngToCell } from "h3-js";
import type { Rng } from "../../scripts/simulate/motion.ts";

/** A hostile socket frame: JSON-ish text, raw bytes sent as text (maybe invalid UTF-8), or binary. */
export type HostileFrame = { kind: "text"; data: string } | { kind: "bytes-as-text"; data: Buffer } | { kind: "binary"; data: Buffer };

const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** Numbers a careless or hostile client sends (as JSON text: NaN and Infinity are not JSON at all). */
const NUMBERS = [
	"0",
	"-0",
	"90",
	"-90",
	"90.0000001",
	"-90.1",
	"180",
	"-180",
	"180.5",
	"1e309",
	"-1e309",
	"NaN",
	"Infinity",
	"1e-400",
	"9007199254740993",
	'"52.5"',
	"null",
	"true",
	"[]",
	"{}",
];
const OPS = ["watch", "pos", "ping", "auth", "here", "pong", "snapshot", "__proto__", "constructor", "", "WATCH", "x".repeat(300)];

function hostileWatch(rng: Rng): string {
	const cell = latLngToCell(52.52, 13.405, 8);
	switch (int(rng, 0, 7)) {
		case 0:
			return `{"op":"watch","cells":${JSON.stringify(Array.from({ length: int(rng, 0, 4000) }, () => (rng() < 0.5 ? cell : "8a2a1072b59ffff")))}}`;
		case 1:
			return `{"op":"watch","cells":[${Array.from({ length: int(rng, 1, 50) }, () => pick(rng, NUMBERS)).join(",")}]}`;
		case 2:
			return `{"op":"watch","bbox":[${Array.from({ length: int(rng, 0, 6) }, () => pick(rng, NUMBERS)).join(",")}]}`;
		case 3:
			return `{"op":"watch","near":{"lat":${pick(rng, NUMBERS)},"lng":${pick(rng, NUMBERS)},"radius":${pick(rng, NUMBERS)}}}`;
		case 4:
			return `{"op":"watch","bbox":[-180,-90,180,90]}`;
		case 5:
			return `{"op":"watch","cells":"${"8".repeat(int(rng, 1, 2000))}","bbox":[0,0,1,1]}`;
		case 6:
			return `{"op":"watch","near":{"lat":52.5,"lng":13.4,"radius":${int(rng, 1, 60_000)}}}`;
		default:
			return `{"op":"watch","cells":${"[".repeat(int(rng, 3, 30_000))}`;
	}
}

function hostilePos(rng: Rng): string {
	const field = () => pick(rng, NUMBERS);
	return `{"op":"pos","lat":${field()},"lng":${field()},"ts":${pick(rng, [...NUMBERS, String(Date.now() + 3_600_000), String(Date.now() - 3_600_000)])},"acc":${field()},"hdg":${field()},"spd":${field()}}`;
}

/** One hostile frame, chosen by the seeded generator. */
export function hostileFrame(rng: Rng): HostileFrame {
	switch (int(rng, 0, 11)) {
		case 0:
			return { kind: "binary", data: Buffer.from(Array.from({ length: int(rng, 0, 512) }, () => int(rng, 0, 255))) };
		case 1:
			return { kind: "bytes-as-text", data: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]) };
		case 2:
			return { kind: "text", data: `{"op":"ping","pad":"${"x".repeat(int(rng, 60_000, 70_000))}"}` };
		case 3:
			return {
				kind: "text",
				data: `{"op":${pick(
					rng,
					OPS.map(o => JSON.stringify(o))
				)},"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`,
			};
		case 4:
			return {
				kind: "text",
				data: pick(rng, ["", "{", "}", "[]", "null", '"op"', "{op:watch}", '{"op":"watch"', "\u0000\u0001", "💥".repeat(int(rng, 1, 100))]),
			};
		case 5:
		case 6:
			return { kind: "text", data: hostileWatch(rng) };
		case 7:
		case 8:
			return { kind: "text", data: hostilePos(rng) };
		case 9:
			return { kind: "text", data: `{"op":${JSON.stringify(pick(rng, OPS))},"token":"${"e".repeat(int(rng, 0, 5000))}"}` };
		case 10:
			return { kind: "text", data: `${"{".repeat(int(rng, 2, 20_000))}"op":"ping"` };
		default:
			return { kind: "text", data: `{"op":"ping","n":${pick(rng, NUMBERS)}}` };
	}
}

/** A hostile REST request over the routes of docs/rest-api.md. */
export type HostileRequest = { method: string; path: string; body?: string; headers: Record<string, string> };

const VALUES = [
	"null",
	"true",
	"false",
	"0",
	"-1",
	"1e309",
	'""',
	'"x"',
	"[]",
	"{}",
	"[1,2,3]",
	'{"$gt":""}',
	`"${"a".repeat(3000)}"`,
	'"<script>alert(1)</script>"',
	'"../../etc/passwd"',
];
const FIELDS = [
	"name",
	"description",
	"categories",
	"phone",
	"website",
	"imageUrl",
	"location",
	"status",
	"rating",
	"text",
	"firstName",
	"lastName",
	"lat",
	"lng",
	"ts",
	"id",
	"__proto__",
	"constructor",
	"$$strict",
];

function hostileBody(rng: Rng): string {
	switch (int(rng, 0, 6)) {
		case 0:
			return `{${Array.from({ length: int(rng, 1, 6) }, () => `${JSON.stringify(pick(rng, FIELDS))}:${pick(rng, VALUES)}`).join(",")}}`;
		case 1:
			return `${"[".repeat(int(rng, 40, 20_000))}${"]".repeat(int(rng, 0, 10))}`;
		case 2:
			return `{"name":${'{"a":'.repeat(int(rng, 40, 5_000))}1}`;
		case 3:
			return pick(rng, ["", "{", "null", "[]", '"text"', "nope", "\u0000"]);
		case 4:
			return `{"description":"${"d".repeat(int(rng, 2_100, 300_000))}"}`;
		case 5:
			return `[${Array.from({ length: int(rng, 1, 20) }, () => pick(rng, VALUES)).join(",")}]`;
		default:
			return `{"location":{"lat":${pick(rng, VALUES)},"lng":${pick(rng, VALUES)}},"categories":[${Array.from({ length: int(rng, 0, 30) }, () => pick(rng, VALUES)).join(",")}]}`;
	}
}

const QUERY = [
	"lat=abc",
	"lat=91&lng=0",
	"lat=0&lng=0&radius=1e309",
	"lat=0&lng=0&radius=-1",
	"bbox=nope",
	"bbox=1,2,3",
	"bbox=NaN,0,1,1",
	"page=0",
	"pageSize=1000",
	`q=${"q".repeat(500)}`,
	"owner=you",
	"status=deleted",
	"category[]=x",
	"online=maybe",
	"limit=-5",
	"res=99",
	"lat[$gt]=0",
];

/** One hostile request; `vendorId` is a vendor the caller owns, `token` the caller's (sometimes left out or broken). */
export function hostileRequest(rng: Rng, vendorId: string, token: string): HostileRequest {
	const id = pick(rng, [vendorId, vendorId, "ven_nobody", "x".repeat(200), "%00", "..%2F..%2Fetc", "ven_%24gt"]);
	const [method, path] = pick(rng, [
		["GET", `/api/vendors?${pick(rng, QUERY)}`],
		["GET", `/api/discovery/nearby?${pick(rng, QUERY)}`],
		["GET", `/api/discovery/heatmap?${pick(rng, QUERY)}`],
		["GET", `/api/vendors/${id}`],
		["PATCH", `/api/vendors/${id}`],
		["PATCH", `/api/vendors/${id}`],
		["POST", "/api/vendors"],
		["POST", `/api/vendors/${id}/status`],
		["POST", `/api/vendors/${id}/location`],
		["POST", `/api/vendors/${id}/reviews`],
		["GET", `/api/vendors/${id}/reviews?${pick(rng, QUERY)}`],
		["PATCH", "/api/me"],
		["PUT", `/api/me/favorites/${id}`],
		["DELETE", `/api/vendors/${id === vendorId ? "ven_nobody" : id}`],
		["POST", "/webhooks/clerk"],
		["POST", "/webhooks/revenuecat"],
		[pick(rng, ["PUT", "DELETE", "OPTIONS", "HEAD"]), "/api/vendors"],
	] as const);
	const headers: Record<string, string> = {
		"Content-Type": pick(rng, [
			"application/json",
			"application/json",
			"text/plain",
			"application/x-www-form-urlencoded",
			"application/json; charset=latin1",
		]),
	};
	const auth = int(rng, 0, 5);
	if (auth <= 3) headers.Authorization = `Bearer ${token}`;
	else if (auth === 4) headers.Authorization = `Bearer ${token.slice(0, -3)}abc`;
	if (rng() < 0.08) headers["Content-Encoding"] = pick(rng, ["gzip", "br", "deflate", "x-unknown"]);
	if (rng() < 0.05) headers["X-Request-ID"] = pick(rng, ["x".repeat(500), "'; DROP TABLE", "ok-id"]);
	const body = method === "GET" || method === "HEAD" || method === "DELETE" ? undefined : hostileBody(rng);
	return body === undefined ? { method, path, headers } : { method, path, body, headers };
}
