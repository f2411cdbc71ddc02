import type { ServiceSchema } from "moleculer";
import type { DomainEvent, DomainEventName } from "../../lib/events.ts";
import type { FENCES_CHANGED_EVENT, HERE_EVENT } from "../../services/alerts/contract.ts";

/** Domain events, and the internal broadcasts of the alerts (their payload is not an envelope). */
export type RecordedName = DomainEventName | typeof HERE_EVENT | typeof FENCES_CHANGED_EVENT;

export type EventRecorder = {
	schema: ServiceSchema;
	events: { name: RecordedName; payload: DomainEvent }[];
	named<T = any>(name: RecordedName): DomainEvent<T>[];
};

/** A service that keeps every listed domain event it receives, for assertions. */
export function eventRecorder(names: RecordedName[], serviceName = "test-recorder"): EventRecorder {
	const events: EventRecorder["events"] = [];
	const schema: ServiceSchema = {
		name: serviceName,
		events: Object.fromEntries(
			names.map(name => [
				name,
				(ctx: { params: DomainEvent }) => {
					events.push({ name, payload: ctx.params });
				},
			])
		),
	};
	return { schema, events, named: name => events.filter(e => e.name === name).map(e => e.payload as DomainEvent<any>) };
}
