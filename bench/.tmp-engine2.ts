import { ServiceBroker } from "moleculer";
import { loadConfig } from "../config/index.ts";
import { createBrokerOptions } from "../moleculer.config.ts";
import { createEngine, withConfig } from "../lib/engine.ts";
import { runUntilSignalled } from "../lib/lifecycle.ts";
const config = loadConfig();
if (process.env.MODE === "engine") await runUntilSignalled(await createEngine(config));
else {
  const opts = createBrokerOptions(config);
  if (process.env.MODE === "nometrics") opts.metrics = false;
  const broker = new ServiceBroker(opts);
  const catalog: Record<string, string> = { api: "../gateways/api/api.service.ts", users: "../services/users.service.ts", vendors: "../services/vendors.service.ts", discovery: "../services/discovery.service.ts", webhooks: "../services/webhooks.service.ts", geo: "../services/geo.service.ts", live: "../gateways/live/live.service.ts" };
  for (const name of config.services) broker.createService(withConfig((await import(catalog[name]!)).default, config));
  await runUntilSignalled(broker);
}
