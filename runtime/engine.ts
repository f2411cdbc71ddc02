import { ServiceBroker, type BrokerOptions, type ServiceSchema, type ServiceSettingSchema } from "moleculer";
import type { Config, RoleName } from "../config/index.ts";
import { createBrokerOptions } from "../moleculer.config.ts";

// biome-ignore lint/suspicious/noExplicitAny: every service has its own settings, methods and variables.
type AnySchema = ServiceSchema<any, any, any, any>;
type SchemaModule = { default: AnySchema };

/**
 * What `SERVICES` can name, loaded lazily so a role only loads the code it runs. This is the
 * only module that imports services and gateways.
 */
const catalog: Record<RoleName, () => Promise<SchemaModule>> = {
	api: () => import("../gateways/api/api.service.ts"),
	users: () => import("../services/users/users.service.ts"),
	vendors: () => import("../services/vendors/vendors.service.ts"),
	discovery: () => import("../services/discovery/discovery.service.ts"),
	webhooks: () => import("../services/webhooks/webhooks.service.ts"),
	outbound: () => import("../services/outbound/outbound.service.ts"),
	geo: () => import("../services/geo/geo.service.ts"),
	alerts: () => import("../services/alerts/alerts.service.ts"),
	live: () => import("../gateways/live/live.service.ts"),
};

/** The roles that serve HTTP, `/health/*` and `/metrics` included, on their own port. */
const HTTP_ROLES: readonly RoleName[] = ["api", "live"];

/** Hands the config to a service through its settings, marked secure so it stays on this node. */
export function withConfig(schema: AnySchema, config: Config): ServiceSchema {
	const settings = (schema.settings ?? {}) as ServiceSettingSchema;
	return {
		...schema,
		settings: { ...settings, config, $secureSettings: [...(settings.$secureSettings ?? []), "config"] },
	} as ServiceSchema;
}

/**
 * A broker with the services `config.services` names (plus `extra`), not yet started; a node
 * that runs neither gateway gets the health server on PORT, so every role can be probed.
 * `server.ts` runs it; tests build engines the same way; `npm run repl` adds `replOptions`.
 */
export async function createEngine(config: Config, extra: AnySchema[] = [], options: Partial<BrokerOptions> = {}): Promise<ServiceBroker> {
	const broker = new ServiceBroker({ ...createBrokerOptions(config), ...options });
	for (const name of config.services) {
		broker.createService(withConfig((await catalog[name]()).default, config));
	}
	if (!config.services.some(name => HTTP_ROLES.includes(name)))
		broker.createService(withConfig((await import("../gateways/health/health.service.ts")).default, config));
	for (const schema of extra) broker.createService(withConfig(schema, config));
	return broker;
}
