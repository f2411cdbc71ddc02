/**
 * The ceiling: a bare uWebSockets.js pub/sub loop. `watch` subscribes to the cells (empty
 * snapshot: no state), `pos` is parsed, given its cell and published to that topic. No auth,
 * validation, rate limit, store or routing: what is left is the cost of uWS itself.
 */
import { App, us_listen_socket_close, us_socket_local_port, type us_listen_socket } from "uWebSockets.js";
import { latLngToCell } from "h3-js";
import type { BaselineServer } from "./ws-baseline.ts";

type Data = { vendorId: string; cells: string[] };

export function startBareUws(port: number, res = 8): Promise<BaselineServer> {
	const stats = { positionsIn: 0, deliveries: 0, sockets: 0 };
	const app = App();
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
		close: () => void stats.sockets--,
		message(ws, data) {
			const msg = JSON.parse(Buffer.from(data).toString());
			if (msg.op === "pos") {
				const cell = latLngToCell(msg.lat, msg.lng, res);
				stats.positionsIn++;
				stats.deliveries += app.numSubscribers(cell);
				app.publish(
					cell,
					JSON.stringify({ op: "pos", id: ws.getUserData().vendorId, lat: msg.lat, lng: msg.lng, cell, ts: msg.ts, hdg: msg.hdg })
				);
			} else if (msg.op === "watch") {
				const ud = ws.getUserData();
				for (const cell of ud.cells) ws.unsubscribe(cell);
				ud.cells = msg.cells;
				for (const cell of ud.cells) ws.subscribe(cell);
				ws.send(JSON.stringify({ op: "snapshot", cells: ud.cells, vendors: [] }));
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
