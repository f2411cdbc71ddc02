/** Load generator: autocannon against GET /api/discovery/nearby with a different point per request. */
import autocannon from "autocannon";
import { cpuMeter, serveRequests } from "../lib/ipc.ts";

export type HttpLoadRun = {
	baseUrl: string;
	centers: { lat: number; lng: number }[];
	radius: number;
	connections: number;
	durationS: number;
};
export type HttpLoadResult = {
	requestsPerSec: number;
	p50Ms: number;
	p99Ms: number;
	non2xx: number;
	errors: number;
	total: number;
	cpuPercent: number;
};

serveRequests({
	async run({ baseUrl, centers, radius, connections, durationS }: HttpLoadRun): Promise<HttpLoadResult> {
		const meter = cpuMeter();
		let n = 0;
		const result = await autocannon({
			url: baseUrl,
			connections,
			duration: durationS,
			requests: [
				{
					method: "GET",
					setupRequest: req => {
						const c = centers[n++ % centers.length]!;
						// ~±1 km around an area centre: different points, so no cache answers for us.
						const lat = c.lat + (Math.random() - 0.5) * 0.018;
						const lng = c.lng + (Math.random() - 0.5) * 0.028;
						return { ...req, path: `/api/discovery/nearby?lat=${lat.toFixed(6)}&lng=${lng.toFixed(6)}&radius=${radius}` };
					},
				},
			],
		});
		return {
			requestsPerSec: result.requests.average,
			p50Ms: result.latency.p50,
			p99Ms: result.latency.p99,
			non2xx: result.non2xx,
			errors: result.errors + result.timeouts,
			total: result.requests.total,
			cpuPercent: meter().cpuPercent,
		};
	},
});
