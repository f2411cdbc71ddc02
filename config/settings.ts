import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { RestDoc } from "../lib/openapi.ts";
import type { Config } from "./index.ts";

declare module "moleculer" {
	interface ActionSchema {
		/** The route's entry in /openapi.json (a `rest` action's answers; see gateways/api/openapi). */
		openapi?: RestDoc;
	}
	interface ServiceSchema<TSettings, TMethods, TVars, TThis> {
		/** Moleculer's `merged` hook (not in its typings): the schema may still be changed, `this.broker` is known. */
		merged?: (this: TThis, schema: ServiceSchema<TSettings, TMethods, TVars, TThis>) => void;
	}
}

/** Settings every Venta service receives: the validated config (never published to other nodes). */
export type VentaSettings = ServiceSettingSchema & { config: Config };

/** `this` inside a Venta service: its settings carry the config, plus its own methods and variables. */
export type VentaService<S extends object = object, M = object, V = object> = Service<VentaSettings & S> & M & V;

/**
 * The one way a Venta service is typed: `S` its own settings, `M` its methods, `V` the variables
 * it sets in `created`. The config is not declared in the schema: `runtime/engine.ts` hands it in.
 */
export type VentaServiceSchema<S extends object = object, M = object, V = object> = ServiceSchema<
	ServiceSettingSchema & S,
	M,
	V,
	VentaService<S, M, V>
>;

/**
 * A part of one Venta service kept in its own file (e.g. the vendors service's reviews routes),
 * typed like the service it is mixed into, in the form Moleculer's `mixins` takes.
 */
export function servicePart<S extends object, M, V>(part: Partial<VentaServiceSchema<S, M, V>>): Partial<ServiceSchema> {
	return part as Partial<ServiceSchema>;
}
