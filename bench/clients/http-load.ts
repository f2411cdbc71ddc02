/** Load generator: autocannon GETs against one endpoint, the next path of a list per request (different points or ids, so no cache answers for us). */
import autocannon from "autocannon";
import { cpuMeter, serveRequests } from "../lib/ipc.ts";

export type HttpLoadRun = {
	baseUrl: string;
	/** Taken in turn, one per request. */
	paths: string[];
	connections: number;
	durationS: number;
};
export type HttpLoadResult = {
	/** How long the load actually ran, in s. */
	durationS: number;
	requestsPerSec: number;
	p50Ms: number;
	p99Ms: number;
	non2xx: number;
	errors: number;
	total: number;
	cpuPercent: number;
};

serveRequests({
	async run({ baseUrl, paths, connections, durationS }: HttpLoadRun): Promise<HttpLoadResult> {
		const meter = cpuMeter();
		let n = 0;
		const result = await autocannon({
			url: baseUrl,
			connections,
			duration: durationS,
			requests: [{ method: "GET", setupRequest: req => ({ ...req, path: paths[n++ % paths.length]! }) }],
			// autocannon stops at its next sample tick: 100 ms ones let a run last under a second.
			sampleInt: 100,
		});
		return {
			durationS: result.duration,
			requestsPerSec: result.requests.total / result.duration,
			p50Ms: result.latency.p50,
			p99Ms: result.latency.p99,
			non2xx: result.non2xx,
			errors: result.errors + result.timeouts,
			total: result.requests.total,
			cpuPercent: meter().cpuPercent,
		};
	},
});
