import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { waitFor } from "./engine.ts";
import { ROOT } from "./process.ts";

export type ReplSession = {
	child: ChildProcess;
	/** Everything printed so far. */
	output(): string;
	/** Sends one line and waits until the output after it satisfies `until`; returns that output. */
	send(line: string, until: (text: string) => boolean): Promise<string>;
	/** Types `exit` and resolves with the exit code. */
	exit(): Promise<number | null>;
	/** Kills the process if it is still running. */
	kill(): void;
};

/** `npm run repl` as an operator runs it, driven through its standard input. */
export async function startRepl(env: Record<string, string>, prompt: string): Promise<ReplSession> {
	const child = spawn("npm", ["run", "-s", "repl"], {
		cwd: ROOT,
		env: { PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`, ...env },
		stdio: ["pipe", "pipe", "pipe"],
	});
	let out = "";
	child.stdout!.on("data", d => (out += d));
	child.stderr!.on("data", d => (out += d));
	const exited = new Promise<number | null>(resolve => child.on("exit", code => resolve(code)));
	const wait = (what: string, check: () => boolean) =>
		waitFor(check, { timeout: 30_000, what }).catch(err => {
			throw new Error(`${(err as Error).message}\n${out}`);
		});
	await wait("the REPL prompt", () => out.includes(prompt));
	return {
		child,
		output: () => out,
		async send(line, until) {
			const from = out.length;
			child.stdin!.write(`${line}\n`);
			await wait(`output of "${line}"`, () => until(out.slice(from)));
			return out.slice(from);
		},
		exit() {
			child.stdin!.write("exit\n");
			return exited;
		},
		kill() {
			if (child.exitCode === null) child.kill("SIGKILL");
		},
	};
}
