/**
 * `npm run repl` — an operator's REPL (moleculer-repl) with the live-operations commands of
 * scripts/repl/commands.ts next to the built-ins (nodes, services, actions, call, emit, metrics …).
 *
 * With NATS_URL: a node of its own (`repl-<host>-<pid>`) joins the cluster and runs no
 * service, so it never takes traffic. Without: the whole embedded engine runs in this process
 * with the REPL attached (as `npm run dev`).
 */
import { createServer } from "node:net";
import { hostname, userInfo } from "node:os";
import { ServiceBroker } from "moleculer";
import { ConfigError, loadConfig, type Config } from "../../config/index.ts";
import { createBrokerOptions } from "../../moleculer.config.ts";
import { createEngine } from "../../runtime/engine.ts";
import { runUntilSignalled } from "../../runtime/lifecycle.ts";
import { operatorCaller } from "../../lib/identity.ts";
import { operatorCommands } from "./commands.ts";

function readConfig(): Config {
	try {
		// Logs would interleave with the prompt: warnings and errors only, unless LOG_LEVEL says otherwise.
		const env: NodeJS.ProcessEnv = { LOG_LEVEL: "warn", ...process.env };
		// A REPL node joining a cluster keeps nothing on disk.
		return loadConfig(env.NATS_URL ? { ...env, DATA_DIR: ":memory:" } : env);
	} catch (err) {
		if (err instanceof ConfigError) {
			process.stderr.write(`${err.message}\n`);
			process.exit(1);
		}
		throw err;
	}
}

const replNodeId = () =>
	`repl-${hostname()
		.replace(/[^\w.-]/g, "-")
		.slice(0, 40)}-${process.pid}`;

/** Whether something already listens on the port (then an embedded engine could not start here). */
function portTaken(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const probe = createServer()
			.once("error", () => resolve(true))
			.once("listening", () => probe.close(() => resolve(false)));
		probe.listen(port);
	});
}

/**
 * Without NATS_URL the REPL runs its own engine; beside a running `npm start` it cannot, and an
 * embedded engine has no mesh to join: say so, and how to attach instead.
 */
async function checkEmbeddedPorts(config: Config): Promise<void> {
	const busy: number[] = [];
	for (const port of [config.port, config.livePort]) if (await portTaken(port)) busy.push(port);
	if (busy.length === 0) return;
	process.stderr.write(
		`Port ${busy.join(" and ")} is in use (is \`npm start\` running?). Without NATS_URL the REPL starts an engine of its own.\n` +
			"To operate a running engine, start both over NATS: NATS_URL=nats://127.0.0.1:4222 npm start, then NATS_URL=nats://127.0.0.1:4222 npm run repl\n" +
			"(or give this REPL's engine other ports: PORT=3100 LIVE_PORT=3101 npm run repl).\n"
	);
	process.exit(1);
}

const config = readConfig();
if (!config.natsUrl) await checkEmbeddedPorts(config);
// Privileged commands carry this identity explicitly; the services refuse such calls without one.
const operator = operatorCaller(userInfo().username);
const replOptions = { delimiter: config.natsUrl ? `venta(${config.namespace}) $` : "venta $", customCommands: operatorCommands(operator) };

const broker = config.natsUrl
	? new ServiceBroker({ ...createBrokerOptions({ ...config, nodeId: replNodeId() }), replOptions })
	: await createEngine(config, [], { replOptions });

await runUntilSignalled(broker);
if (config.natsUrl) {
	// Give discovery one heartbeat so `nodes` and the commands see the cluster straight away.
	await broker.waitForServices([], 0).catch(() => undefined);
	await new Promise(r => setTimeout(r, 500));
}
console.log(`Venta REPL on node ${broker.nodeID} as ${operator.id}. Type "help" for commands, "exit" to leave.`);
broker.repl();
