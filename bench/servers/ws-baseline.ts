/**
 * The baseline a team would otherwise write: a `ws` server with an in-memory map that speaks
 * the same `watch` / `pos` / `gone` / `snapshot` protocol (a watch of cells or of a bbox, turned
 * into cells as the engine does; no auth, no store, no cluster). Written the good way: each frame serialised once into one Buffer, sent to the
 * watchers of its cell from a per-cell Set, slow sockets skipped instead of buffered.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { getResolution, isValidCell, latLngToCell } from "h3-js";
import { bboxCells, isBBox } from "./cells.ts";

type Conn = { vendorId: string | null; cells: Set<string> };
type VendorPos = { id: string; lat: number; lng: number; cell: string; ts: number; hdg?: number; spd?: number };
export type BaselineStats = { positionsIn: number; deliveries: number; sockets: number };
export type BaselineServer = { port: number; stats(): BaselineStats; close(): Promise<void> };

const MAX_CELLS = 2000;
const MAX_BUFFERED = 256 * 1024;
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export function startWsBaseline(port: number, res = 8): Promise<BaselineServer> {
	const conns = new Map<WebSocket, Conn>();
	const watchers = new Map<string, Set<WebSocket>>();
	const positions = new Map<string, VendorPos>();
	const vendorsInCell = new Map<string, Set<string>>();
	const stats = { positionsIn: 0, deliveries: 0 };

	const error = (ws: WebSocket, message: string) => ws.send(JSON.stringify({ op: "error", code: "BAD_REQUEST", message }));

	function fanOut(cell: string, frame: Buffer): void {
		const set = watchers.get(cell);
		if (!set) return;
		for (const ws of set) {
			if (ws.bufferedAmount > MAX_BUFFERED) continue;
			ws.send(frame, { binary: false });
			stats.deliveries++;
		}
	}

	function unindex(id: string, cell: string): void {
		const set = vendorsInCell.get(cell);
		set?.delete(id);
		if (set?.size === 0) vendorsInCell.delete(cell);
	}

	/** The cells a watch frame asks for, or why it is refused. */
	function watchSet(msg: Record<string, unknown>): string[] | { refused: string } {
		if (msg.bbox !== undefined) {
			if (!isBBox(msg.bbox)) return { refused: "bbox must be [west, south, east, north] with west < east and south < north" };
			const cells = bboxCells(msg.bbox, res);
			return cells.length > MAX_CELLS ? { refused: `the bbox covers more than ${MAX_CELLS} cells` } : cells;
		}
		const { cells } = msg;
		if (
			!Array.isArray(cells) ||
			cells.length > MAX_CELLS ||
			!cells.every(c => typeof c === "string" && isValidCell(c) && getResolution(c) === res)
		) {
			return { refused: `cells must be at most ${MAX_CELLS} H3 cells at resolution ${res}` };
		}
		return cells as string[];
	}

	function watch(ws: WebSocket, conn: Conn, msg: Record<string, unknown>): void {
		const cells = watchSet(msg);
		if (!Array.isArray(cells)) {
			error(ws, cells.refused);
			return;
		}
		for (const cell of conn.cells) watchers.get(cell)?.delete(ws);
		conn.cells = new Set(cells);
		const vendors: VendorPos[] = [];
		for (const cell of conn.cells) {
			const set = watchers.get(cell);
			if (set) set.add(ws);
			else watchers.set(cell, new Set([ws]));
			for (const id of vendorsInCell.get(cell) ?? []) vendors.push(positions.get(id)!);
		}
		ws.send(JSON.stringify({ op: "snapshot", cells: [...conn.cells], vendors }));
	}

	function position(ws: WebSocket, conn: Conn, msg: Record<string, unknown>): void {
		const { lat, lng, ts, hdg, spd } = msg;
		if (!conn.vendorId) {
			error(ws, "not a vendor socket");
			return;
		}
		if (!finite(lat) || !finite(lng) || lat < -90 || lat > 90 || lng < -180 || lng > 180) {
			error(ws, "bad coordinates");
			return;
		}
		const cell = latLngToCell(lat, lng, res);
		const p: VendorPos = { id: conn.vendorId, lat, lng, cell, ts: finite(ts) ? ts : Date.now() };
		if (finite(hdg)) p.hdg = hdg;
		if (finite(spd)) p.spd = spd;
		const previous = positions.get(p.id);
		positions.set(p.id, p);
		stats.positionsIn++;
		if (previous && previous.cell !== cell) {
			unindex(p.id, previous.cell);
			fanOut(previous.cell, Buffer.from(JSON.stringify({ op: "gone", id: p.id, cell: previous.cell })));
		}
		const cellSet = vendorsInCell.get(cell);
		if (cellSet) cellSet.add(p.id);
		else vendorsInCell.set(cell, new Set([p.id]));
		fanOut(cell, Buffer.from(JSON.stringify({ op: "pos", ...p })));
	}

	const http: Server = createServer((req, resp) => {
		if (req.url === "/stats") {
			resp.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ ...stats, sockets: conns.size }));
		} else resp.writeHead(404).end();
	});
	const wss = new WebSocketServer({ server: http, path: "/live", maxPayload: 64 * 1024, perMessageDeflate: false });
	wss.on("connection", (ws, req) => {
		const vendorId = new URL(req.url ?? "/", "http://x").searchParams.get("vendor");
		const conn: Conn = { vendorId, cells: new Set() };
		conns.set(ws, conn);
		ws.on("message", (data, isBinary) => {
			let msg: Record<string, unknown>;
			try {
				msg = JSON.parse(data.toString());
			} catch {
				return error(ws, "invalid JSON");
			}
			if (isBinary || typeof msg !== "object" || msg === null) return error(ws, "frames are JSON objects");
			if (msg.op === "pos") position(ws, conn, msg);
			else if (msg.op === "watch") watch(ws, conn, msg);
			else if (msg.op === "ping") ws.send('{"op":"pong"}');
			else error(ws, "unknown op");
		});
		ws.on("close", () => {
			for (const cell of conn.cells) watchers.get(cell)?.delete(ws);
			conns.delete(ws);
			const p = conn.vendorId ? positions.get(conn.vendorId) : undefined;
			if (p) {
				positions.delete(p.id);
				unindex(p.id, p.cell);
				fanOut(p.cell, Buffer.from(JSON.stringify({ op: "gone", id: p.id, cell: p.cell })));
			}
		});
	});

	return new Promise((resolve, reject) => {
		http.once("error", reject);
		http.listen(port, "0.0.0.0", () => {
			resolve({
				port: (http.address() as AddressInfo).port,
				stats: () => ({ ...stats, sockets: conns.size }),
				close: () =>
					new Promise<void>(done => {
						for (const ws of conns.keys()) ws.terminate();
						wss.close();
						http.close(() => done());
					}),
			});
		});
	});
}
