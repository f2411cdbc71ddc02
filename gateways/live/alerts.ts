import type { EventSchema } from "moleculer";
import type { DomainEvent, DomainEventName } from "../../lib/events.ts";
import type { AlertFired } from "../../services/alerts/contract.ts";
import type { AlertFrame } from "./protocol/frames.ts";

/** The domain events whose alerts go to their user's sockets. */
export const ALERT_EVENTS = ["location.proximity_alert", "location.geofence_triggered"] as const satisfies readonly DomainEventName[];

/**
 * Each live node takes the alert events as a group of its own, so every node receives every alert
 * (they are rare next to positions) and sends it to the user's sockets it holds: one hop, whichever
 * node the user is on, instead of one node receiving it and broadcasting it on.
 */
const alertEventGroup = (nodeID: string): string => `live-${nodeID}`;

/** Puts the alert event handlers of a schema in the node's own group (Moleculer's `merged` hook). */
export function inNodeGroup(events: Record<string, unknown> | undefined, nodeID: string): Record<string, unknown> {
	const grouped: Record<string, unknown> = { ...events };
	for (const name of ALERT_EVENTS) grouped[name] = { ...(grouped[name] as EventSchema), group: alertEventGroup(nodeID) };
	return grouped;
}

/** The `alert` frame of a customer's fired alert; null for a zone's (an operator's: no user to tell). */
export function alertFrame({ meta, data }: DomainEvent<AlertFired>): { userId: string; frame: AlertFrame } | null {
	if (data.userId === null || data.kind === "zone") return null;
	const frame: AlertFrame = {
		op: "alert",
		eventId: meta.eventId,
		fenceId: data.fenceId,
		kind: data.kind,
		...(data.name === undefined ? {} : { name: data.name }),
		vendorId: data.vendorId,
		transition: data.transition,
		distance: data.distance,
		position: { lat: data.position.lat, lng: data.position.lng, ts: data.position.ts },
	};
	return { userId: data.userId, frame };
}
