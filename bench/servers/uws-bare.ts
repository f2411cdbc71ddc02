/**
 * The ceiling: a bare uWebSockets.js pub/sub loop. `pos` is parsed, given its cell, kept as the
 * vendor's latest position and published to the cell's topic (and `gone` to the cell it left);
 * `watch` (cells, or a bbox turned into cells as the engine does) subscribes to the cells and is
 * answered with a snapshot from the in-memory map. No auth, validation, rate limit, store or
 * routing: what is left is the cost of uWS itself and of the map a snapshot needs.
 */
import { App, us_listen_socket_close, us_socket_local_port, type us_listen_socket } from "uWebSockets.js";
import { latLngToCell } from "h3-js";
import { bboxCells } from "./cells.ts";
import type { BaselineServer } from "./ws-baseline.ts";

type Data = { vendorId: string; cells: string[] };
type VendorView = { id: string; lat: number; lng: number; cell: string; ts: number; hdg?: number };

export function startBareUws(port: number, res = 8): Promise<BaselineServer> {
	const stats = { positionsIn: 0, deliveries: 0, sockets: 0 };
	const positions = new Map<string, VendorView>();
	const vendorsInCell = new Map<string, Set<string>>();
	const app = App();

	const publish = (cell: string, frame: string) => {
		stats.deliveries += app.numSubscribers(cell);
		app.publish(cell, frame);
	};
	/** Takes the vendor out of its cell's index and tells the cell's watchers. */
	const leave = (view: VendorView) => {
		const set = vendorsInCell.get(view.cell);
		set?.delete(view.id);
		if (set?.size === 0) vendorsInCell.delete(view.cell);
		publish(view.cell, JSON.stringify({ op: "gone", id: view.id, cell: view.cell }));
	};

	app.ws<Data>("/live", {
		maxPayloadLength: 64 * 1024,
		maxBackpressure: 256 * 1024,
		upgrade(resp, req, context) {
			resp.upgrade(
				{ vendorId: req.getQuery("vendor") ?? "", cells: [] },
				req.getHeader("sec-websocket-key"),
				req.getHeader("sec-websocket-protocol"),
				req.getHeader("sec-websocket-extensions"),
				context
			);
		},
		open: () => void stats.sockets++,
		close(ws) {
			stats.sockets--;
			const view = positions.get(ws.getUserData().vendorId);
			if (view) {
				positions.delete(view.id);
				leave(view);
			}
		},
		message(ws, data) {
			const msg = JSON.parse(Buffer.from(data).toString());
			if (msg.op === "pos") {
				const id = ws.getUserData().vendorId;
				const view: VendorView = { id, lat: msg.lat, lng: msg.lng, cell: latLngToCell(msg.lat, msg.lng, res), ts: msg.ts, hdg: msg.hdg };
				const previous = positions.get(id);
				if (previous && previous.cell !== view.cell) leave(previous);
				positions.set(id, view);
				const set = vendorsInCell.get(view.cell);
				if (set) set.add(id);
				else vendorsInCell.set(view.cell, new Set([id]));
				stats.positionsIn++;
				publish(view.cell, JSON.stringify({ op: "pos", ...view }));
			} else if (msg.op === "watch") {
				const ud = ws.getUserData();
				for (const cell of ud.cells) ws.unsubscribe(cell);
				ud.cells = msg.bbox ? bboxCells(msg.bbox, res) : msg.cells;
				const vendors: VendorView[] = [];
				for (const cell of ud.cells) {
					ws.subscribe(cell);
					for (const id of vendorsInCell.get(cell) ?? []) vendors.push(positions.get(id)!);
				}
				ws.send(JSON.stringify({ op: "snapshot", cells: ud.cells, vendors }));
			}
		},
	});
	app.get("/stats", resp => void resp.writeHeader("Content-Type", "application/json").end(JSON.stringify(stats)));
	return new Promise((resolve, reject) => {
		app.listen("0.0.0.0", port, (socket: us_listen_socket | false) => {
			if (!socket) return reject(new Error(`port ${port} is not available`));
			resolve({
				port: us_socket_local_port(socket as never),
				stats: () => ({ ...stats }),
				close: async () => {
					us_listen_socket_close(socket);
					app.close();
				},
			});
		});
	});
}
