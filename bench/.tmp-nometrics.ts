// Experiment only: the engine with Moleculer's metrics disabled (same services, same config).
import { ServiceBroker } from "moleculer";
import { loadConfig } from "/work/main/config/index.ts";
import { createBrokerOptions } from "/work/main/moleculer.config.ts";
import { withConfig } from "/work/main/lib/engine.ts";
import { runUntilSignalled } from "/work/main/lib/lifecycle.ts";
const config = loadConfig();
const broker = new ServiceBroker({ ...createBrokerOptions(config), metrics: process.env.METRICS === "1" ? createBrokerOptions(config).metrics : false });
const catalog: Record<string, string> = { api: "/work/main/gateways/api/api.service.ts", users: "/work/main/services/users.service.ts", vendors: "/work/main/services/vendors.service.ts", discovery: "/work/main/services/discovery.service.ts", webhooks: "/work/main/services/webhooks.service.ts", geo: "/work/main/services/geo.service.ts", live: "/work/main/gateways/live/live.service.ts" };
for (const name of config.services) broker.createService(withConfig((await import(catalog[name]!)).default, config));
await runUntilSignalled(broker);
