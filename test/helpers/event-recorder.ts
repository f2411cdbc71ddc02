import type { ServiceSchema } from "moleculer";
import type { DomainEvent, DomainEventName } from "../../lib/events.ts";

export type EventRecorder = {
	schema: ServiceSchema;
	events: { name: DomainEventName; payload: DomainEvent }[];
	named<T = any>(name: DomainEventName): DomainEvent<T>[];
};

/** A service that keeps every listed domain event it receives, for assertions. */
export function eventRecorder(names: DomainEventName[], serviceName = "test-recorder"): EventRecorder {
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
