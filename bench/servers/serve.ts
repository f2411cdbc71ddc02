/** `node bench/servers/serve.ts ws|uws <port>`: runs one competitor server as its own process. */
import { startWsBaseline } from "./ws-baseline.ts";
import { startBareUws } from "./uws-bare.ts";

const [kind, port] = process.argv.slice(2);
if (kind !== "ws" && kind !== "uws") {
	process.stderr.write("usage: node bench/servers/serve.ts ws|uws <port>\n");
	process.exit(2);
}
const server = await (kind === "ws" ? startWsBaseline : startBareUws)(Number(port));
process.stdout.write(`listening ${server.port}\n`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
