/**
 * The city of the rush-hour and REST scenarios: 200 vendors online in 6 km × 6 km of Munich,
 * their sockets held open by one vendors client for as long as the scenarios run.
 */
import type { BenchVendor } from "../clients/vendors.ts";
import type { BenchContext } from "../lib/context.ts";
import { placeVendors, type Competitor } from "../lib/competitors.ts";
import type { ClientProc } from "../lib/ipc.ts";
import { bringOnline, connectVendors, forkClient } from "../lib/load.ts";
import { boxAround, placesInBox } from "../lib/places.ts";

export const CITY_AREA = boxAround(48.137, 11.575, 6000);
export const CITY_VENDORS = 200;
const SEED = 14_003;
/** Online: each vendor sends at this rate until a scenario silences them. */
export const CITY_HZ = 1;

export type City = {
	client: ClientProc;
	/** Each vendor with its cell (positions jitter inside it). */
	vendors: (BenchVendor & { cell: string })[];
	close(): Promise<void>;
};

/** Connects the city's vendors (identities from `offset` on) and returns once every one has sent a position (then they go on at CITY_HZ). */
export async function openCity(ctx: BenchContext, stage: string, server: Competitor, offset: number): Promise<City> {
	const places = placesInBox(CITY_AREA, CITY_VENDORS, SEED);
	const vendors = placeVendors(server.identities, places, offset);
	const client = forkClient("city-vendors", "bench/clients/vendors.ts");
	try {
		await connectVendors(ctx, stage, client, server.liveUrl, vendors);
		await bringOnline(client, CITY_HZ);
	} catch (err) {
		await client.close();
		throw err;
	}
	ctx.log(stage, `${CITY_VENDORS} vendors online in 6 km × 6 km`);
	return {
		client,
		vendors: vendors.map((v, i) => ({ ...v, cell: places[i]!.cell })),
		close: async () => {
			try {
				await client.call("close", {}, 30_000);
			} finally {
				await client.close();
			}
		},
	};
}
