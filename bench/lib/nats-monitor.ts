/** What the NATS servers say about a run, from their monitoring endpoints: traffic (/varz) and who subscribes to what (/connz). */

const get = async <T>(url: string): Promise<T> => {
	const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
	if (!res.ok) throw new Error(`${url} answered ${res.status}`);
	return (await res.json()) as T;
};

/** One server's running totals (messages and bytes in and out count client and route traffic alike). */
export type VarzSample = { inMsgs: number; outMsgs: number; inBytes: number; outBytes: number; cpuPercent: number; at: number };

export async function varz(monitorUrl: string): Promise<VarzSample> {
	const v = await get<{ in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number; cpu: number }>(`${monitorUrl}/varz`);
	return { inMsgs: v.in_msgs, outMsgs: v.out_msgs, inBytes: v.in_bytes, outBytes: v.out_bytes, cpuPercent: v.cpu, at: Date.now() };
}

export type ServerTraffic = {
	inMsgsPerSec: number;
	outMsgsPerSec: number;
	inBytesPerSec: number;
	outBytesPerSec: number;
	/** The server's own CPU % as /varz reports it at the end. */
	cpuPercent: number;
};

/** Per-second rates of each server between two samples, and their sum. */
export function trafficBetween(
	before: readonly VarzSample[],
	after: readonly VarzSample[]
): { servers: ServerTraffic[]; total: ServerTraffic } {
	const servers = after.map((b, i) => {
		const a = before[i]!;
		const s = (b.at - a.at) / 1000;
		return {
			inMsgsPerSec: (b.inMsgs - a.inMsgs) / s,
			outMsgsPerSec: (b.outMsgs - a.outMsgs) / s,
			inBytesPerSec: (b.inBytes - a.inBytes) / s,
			outBytesPerSec: (b.outBytes - a.outBytes) / s,
			cpuPercent: b.cpuPercent,
		};
	});
	const sum = (k: keyof ServerTraffic) => servers.reduce((acc, s) => acc + s[k], 0);
	const total = {
		inMsgsPerSec: sum("inMsgsPerSec"),
		outMsgsPerSec: sum("outMsgsPerSec"),
		inBytesPerSec: sum("inBytesPerSec"),
		outBytesPerSec: sum("outBytesPerSec"),
		cpuPercent: sum("cpuPercent"),
	};
	return { servers, total };
}

type ConnzEntry = { name?: string; in_msgs: number; in_bytes: number; out_msgs: number; out_bytes: number; subscriptions_list?: string[] };

/** One client connection as its NATS server sees it: running totals and the subjects it subscribes to. */
export type ConnectionSample = { inMsgs: number; inBytes: number; outMsgs: number; outBytes: number; subjects: string[] };

/** The connection named `name` (the live router's is `live-<nodeID>`), on whichever server of the cluster it is connected to. */
export async function connection(monitorUrls: readonly string[], name: string): Promise<ConnectionSample> {
	for (const url of monitorUrls) {
		const connz = await get<{ connections: ConnzEntry[] }>(`${url}/connz?subs=1&limit=4096`);
		const c = connz.connections.find(entry => entry.name === name);
		if (c)
			return { inMsgs: c.in_msgs, inBytes: c.in_bytes, outMsgs: c.out_msgs, outBytes: c.out_bytes, subjects: c.subscriptions_list ?? [] };
	}
	throw new Error(`no NATS server lists a connection named ${name}`);
}
