/** The load-generator processes (bench/clients/) as the stages drive them: fork, connect, sample, drain. */
import type { VendorsConnected, VendorsSample, BenchVendor } from "../clients/vendors.ts";
import type { WatchersSample, WatchRequest } from "../clients/watchers.ts";
import { deliveryTotal } from "./checks.ts";
import { type BenchContext, LOCAL_ADDRESSES, StageError } from "./context.ts";
import { sleep } from "./engine.ts";
import { split } from "./geometry.ts";
import { ClientProc } from "./ipc.ts";
import { forkScript } from "./proc.ts";

export const forkClient = (name: string, script: string): ClientProc => new ClientProc(forkScript(name, script));

/** Highest client CPU % of a set of samples (the busiest load generator). */
export const maxCpu = (samples: { cpuPercent: number }[]): number => Math.max(0, ...samples.map(s => s.cpuPercent));

/**
 * Opens `vendors` sockets on a vendors client (adding to those it has open) and checks that all
 * `expectedOpen` are open; a socket the server dropped right after opening (and was reconnected) is noted.
 */
export async function connectVendors(
	ctx: BenchContext,
	stage: string,
	client: ClientProc,
	url: string,
	vendors: BenchVendor[],
	expectedOpen = vendors.length
): Promise<number> {
	const c = await client.call<VendorsConnected>("connect", { url, vendors, localAddresses: LOCAL_ADDRESSES }, 120_000);
	if (c.reconnected > 0)
		ctx.note(
			`${stage}: the server dropped ${c.reconnected} vendor socket(s) right after opening (${JSON.stringify(c.dropped)}); reconnected`
		);
	if (c.open !== expectedOpen)
		throw new StageError(
			`${c.open} of ${expectedOpen} vendor sockets open (closed: ${JSON.stringify(c.dropped)}, errors: ${JSON.stringify(c.errors)})`
		);
	return c.open;
}

/** Time for the servers to take a burst of first positions in (stored, so snapshots hold them). */
const ONLINE_SETTLE_MS = 200;

/** Every vendor of the client sends a position at once, then all send at `hz`: online before any watcher asks for a snapshot. */
export async function bringOnline(vendorsClient: ClientProc, hz: number): Promise<void> {
	await vendorsClient.call("announce");
	await sleep(ONLINE_SETTLE_MS);
	await vendorsClient.call("rate", { perVendorHz: hz });
}

/**
 * Watcher sockets over `procs` client processes, each sending its watch; returns once every
 * socket is open and subscribed (one snapshot each). `expectVendors`: the snapshot entries all
 * of them should hold together (a difference is noted).
 */
export async function connectWatchers(
	ctx: BenchContext,
	stage: string,
	url: string,
	watches: WatchRequest[],
	procs: number,
	opts: { expectVendors?: number; sampleEvery?: number } = {}
): Promise<ClientProc[]> {
	const clients = Array.from({ length: procs }, (_, i) => forkClient(`watchers-${i}`, "bench/clients/watchers.ts"));
	const parts = split(watches, procs);
	const sampleEvery = opts.sampleEvery ?? ctx.latencySampleEvery;
	const opened = await Promise.all(
		clients.map((c, i) =>
			c.call<{ open: number }>("connect", { url, watches: parts[i], localAddresses: LOCAL_ADDRESSES, sampleEvery }, 180_000)
		)
	);
	const open = opened.reduce((a, o) => a + o.open, 0);
	if (open !== watches.length) throw new StageError(`${open} of ${watches.length} watcher sockets connected`);
	// Every socket subscribed: one snapshot each (answers arrive after the watch frames).
	const deadline = Date.now() + 60_000;
	let snapshots = 0;
	let vendors = 0;
	while (Date.now() < deadline) {
		const samples = await Promise.all(clients.map(c => c.call<WatchersSample>("sample")));
		snapshots = samples.reduce((a, s) => a + s.snapshots, 0);
		vendors = samples.reduce((a, s) => a + s.snapshotVendors, 0);
		if (snapshots === watches.length) break;
		await sleep(200);
	}
	if (snapshots !== watches.length) throw new StageError(`${snapshots} of ${watches.length} watchers got their snapshot`);
	const vendorNote = opts.expectVendors === undefined ? "" : `, ${vendors} of ${opts.expectVendors} expected vendors in snapshots`;
	ctx.log(stage, `${open} watchers connected and subscribed (${snapshots} snapshots${vendorNote})`);
	if (opts.expectVendors !== undefined && vendors !== opts.expectVendors)
		ctx.note(`${stage}: snapshots held ${vendors} vendors, expected ${opts.expectVendors}`);
	return clients;
}

/** The vendors' and every watcher's counters since their last sample; deliveries against what the sent positions should fan out to. */
export async function sampleClients(vendorsClient: ClientProc, watchers: ClientProc[], fanOut: number) {
	const [vs, ...ws] = await Promise.all([
		vendorsClient.call<VendorsSample>("sample"),
		...watchers.map(w => w.call<WatchersSample>("sample")),
	]);
	return { vs, ws, delivered: ws.reduce((a, s) => a + s.pos, 0), expected: vs.sent * fanOut };
}

/** Stops the vendors, waits for frames in flight, and totals deliveries against what was sent. */
export async function drainDeliveries(
	vendorsClient: ClientProc,
	watchers: ClientProc[],
	fanOut: number,
	rounds: { delivered: number; expected: number }[]
) {
	await vendorsClient.call("rate", { perVendorHz: 0 });
	await sleep(500);
	const last = await sampleClients(vendorsClient, watchers, fanOut);
	return deliveryTotal([...rounds, last]);
}
