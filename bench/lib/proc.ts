import { readdirSync, readFileSync } from "node:fs";
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Clock ticks per second of /proc/<pid>/stat (usually 100). */
const CLK_TCK = (() => {
	try {
		return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
	} catch {
		return 100;
	}
})();

/** CPU time of a process: per-thread nanoseconds from /proc/<pid>/task/<tid>/schedstat. */
export type CpuSample = { threads: Map<string, number>; ticksNs: number };

function readTicksNs(pid: number): number {
	const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
	const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	// After the command name: state is field 3; utime and stime are fields 14 and 15.
	return ((Number(fields[11]) + Number(fields[12])) * 1e9) / CLK_TCK;
}

/**
 * Reads the CPU time the process has used so far, from outside (the process needs no help).
 * schedstat gives each thread's on-CPU time in ns (utime+stime in ticks is only 10 ms fine).
 */
export function cpuSample(pid: number): CpuSample {
	const threads = new Map<string, number>();
	for (const tid of readdirSync(`/proc/${pid}/task`)) {
		try {
			threads.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]));
		} catch {
			// The thread ended between listing and reading.
		}
	}
	return { threads, ticksNs: readTicksNs(pid) };
}

/** CPU nanoseconds used between two samples (threads that ended in between count up to their last sample). */
export function cpuNsBetween(a: CpuSample, b: CpuSample): number {
	if (b.threads.size === 0) return b.ticksNs - a.ticksNs;
	let ns = 0;
	for (const [tid, t] of b.threads) ns += t - (a.threads.get(tid) ?? 0);
	return ns;
}

/** Share of that CPU time spent on the main (JavaScript) thread; the rest is GC, JIT and I/O threads. */
export function mainThreadShare(pid: number, a: CpuSample, b: CpuSample): number {
	const tid = String(pid);
	return ((b.threads.get(tid) ?? 0) - (a.threads.get(tid) ?? 0)) / cpuNsBetween(a, b);
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
	const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
	return m ? Number(m[1]) * 1024 : NaN;
}

/** The soft limit of open files of a process. */
export function openFilesLimit(pid: number): number {
	const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
	return !m || m[1] === "unlimited" ? Infinity : Number(m[1]);
}

export function machineInfo() {
	const list = cpus();
	return {
		cores: list.length,
		cpuModel: list[0]?.model ?? "unknown",
		node: process.version,
		platform: `${process.platform} ${process.arch}`,
		totalMemMB: Math.round(totalmem() / 2 ** 20),
		openFilesLimit: openFilesLimit(process.pid),
	};
}

/** Every child this run started, so a failure or Ctrl-C ends them all (each by its own pid). */
const children = new Set<ChildProcess>();

export function killAllChildren(): void {
	for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

export type Proc = {
	child: ChildProcess;
	pid: number;
	name: string;
	/** The last lines of its output (for error messages). */
	tail(): string;
	exited: Promise<number | string>;
	stop(timeoutMs?: number): Promise<void>;
};

function track(name: string, child: ChildProcess): Proc {
	children.add(child);
	let out = "";
	const keep = (d: Buffer) => {
		out = (out + d.toString()).slice(-4000);
	};
	child.stdout?.on("data", keep);
	child.stderr?.on("data", keep);
	const exited = new Promise<number | string>(resolve =>
		child.on("exit", (code, signal) => {
			children.delete(child);
			resolve(code ?? signal ?? -1);
		})
	);
	return {
		child,
		pid: child.pid!,
		name,
		tail: () => out.trim().split("\n").slice(-12).join("\n"),
		exited,
		async stop(timeoutMs = 10_000) {
			if (child.exitCode !== null || child.signalCode !== null) return;
			child.kill("SIGTERM");
			const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
			await exited;
			clearTimeout(timer);
		},
	};
}

/** Runs a .ts entry with this Node (22, type stripping) as a plain child process. */
export function spawnScript(name: string, script: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Proc {
	const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
		cwd: ROOT,
		env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	return track(name, child);
}

/** Runs a .ts entry with an IPC channel (load generators). */
export function forkScript(name: string, script: string, args: string[] = []): Proc {
	const child = fork(script, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced" });
	return track(name, child);
}
