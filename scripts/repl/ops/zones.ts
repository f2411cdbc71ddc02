import type { ServiceBroker } from "moleculer";
import type { Caller } from "../../../lib/identity.ts";
import type { CreateZoneParams, IdParams, PolygonPoints, Zone, ZoneList } from "../../../services/alerts/contract.ts";
import { asOperator, OpsError } from "./common.ts";

/** Operators' zones (the alerts service's admin actions, as the operator). */

export type ZoneRow = { id: string; name: string; points: number; on: string; dwellS: number | string; createdAt: string };

const row = (zone: Zone): ZoneRow => ({
	id: zone.id,
	name: zone.name,
	points: zone.points.length,
	on: (zone.on ?? []).join(","),
	dwellS: zone.dwellS ?? "",
	createdAt: zone.createdAt,
});

/** `lng,lat;lng,lat;…` → `[[lng, lat], …]` (the service checks the polygon itself). */
export function parsePoints(text: string): PolygonPoints {
	return text.split(";").map(pair => {
		const [lng, lat, extra] = pair.split(",").map(v => (v.trim() === "" ? Number.NaN : Number(v)));
		if (extra !== undefined || !Number.isFinite(lng) || !Number.isFinite(lat))
			throw new OpsError("points must be lng,lat pairs separated by ';', e.g. 13.40,52.50;13.41,52.50;13.41,52.51");
		return [lng!, lat!];
	});
}

export async function zoneList(broker: ServiceBroker, operator: Caller): Promise<ZoneRow[]> {
	return (await broker.call<ZoneList, object>("alerts.listZones", {}, asOperator(operator))).rows.map(row);
}

export async function zoneAdd(broker: ServiceBroker, operator: Caller, zone: CreateZoneParams): Promise<ZoneRow> {
	return row(await broker.call<Zone, CreateZoneParams>("alerts.createZone", zone, asOperator(operator)));
}

export async function zoneRemove(broker: ServiceBroker, operator: Caller, id: string): Promise<void> {
	await broker.call<unknown, IdParams>("alerts.removeZone", { id }, asOperator(operator));
}
