/**
 * An attacker in a process of its own: one socket sending valid, expensive `watch` frames (bboxes
 * of ~1 900 cells, varied so nothing caches) as fast as the socket takes them, reconnecting each
 * time it is closed. Run by the fuzz test as `node watch-flooder.ts <ws url> <ms>`; prints
 * `{ frames, closes }` as JSON when the time is up. Its own process, so the test's clients (which
 * time the control pair) never wait on the flooder's loop.
 */
import WebSocket from "ws";

const [url, durationArg] = process.argv.slice(2);
if (!url) throw new Error("usage: watch-flooder.ts <ws url> <ms>");
const durationMs = Number(durationArg ?? 5_000);
const closes: Record<number, number> = {};

const connect = () =>
	new Promise<WebSocket>(resolve => {
		const ws = new WebSocket(url);
		ws.on("error", () => undefined);
		ws.once("open", () => resolve(ws));
		ws.once("close", code => {
			closes[code] = (closes[code] ?? 0) + 1;
			resolve(ws);
		});
	});

let socket = await connect();
let frames = 0;
const started = Date.now();
while (Date.now() - started < durationMs) {
	if (socket.readyState !== WebSocket.OPEN) socket = await connect();
	for (let i = 0; i < 100 && socket.readyState === WebSocket.OPEN; i++) {
		socket.send(JSON.stringify({ op: "watch", bbox: [13.3 + Math.random() * 0.01, 52.45, 13.52, 52.56] }));
		frames++;
	}
	await new Promise(r => setImmediate(r));
}
socket.close();
console.log(JSON.stringify({ frames, closes }));
process.exit(0);
