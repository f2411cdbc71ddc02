import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "./engine.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type NodeProcess = {
	child: ChildProcess;
	/** Everything written so far to stdout and stderr. */
	output(): string;
	/** Resolves with the exit code (or signal name) once the process has ended. */
	exited: Promise<number | string>;
	kill(signal?: NodeJS.Signals): Promise<number | string>;
};

/** Runs a .ts entry point with the project's Node 22 (the one first on PATH in npm scripts). */
export function spawnNode(script: string, env: Record<string, string>, args: string[] = []): NodeProcess {
	const child = spawn(process.execPath, [script, ...args], {
		cwd: ROOT,
		env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
		stdio: ["pipe", "pipe", "pipe"],
	});
	let out = "";
	child.stdout!.on("data", d => (out += d));
	child.stderr!.on("data", d => (out += d));
	const exited = new Promise<number | string>(resolve => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
	return {
		child,
		output: () => out,
		exited,
		async kill(signal = "SIGTERM") {
			if (child.exitCode === null && child.signalCode === null) child.kill(signal);
			return exited;
		},
	};
}

/** Waits until `GET url` answers 200. */
export function waitForHttp(url: string, timeout = 20_000): Promise<Response> {
	return waitFor(
		async () => {
			const res = await fetch(url);
			return res.status === 200 ? res : undefined;
		},
		{ timeout, interval: 100, what: `200 from ${url}` }
	);
}
