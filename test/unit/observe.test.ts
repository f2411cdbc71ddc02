import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { metricsAuthorized } from "../../runtime/metrics.ts";
import { allPanels, DASHBOARD_PATH, metricNames, ratedMetrics, readDashboard } from "../helpers/dashboard.ts";
import { ROOT } from "../helpers/process.ts";

type Service = {
	image?: string;
	profiles?: string[];
	entrypoint?: string[];
	environment?: Record<string, string>;
	volumes?: string[];
	tmpfs?: string[];
	ports?: string[];
	depends_on?: Record<string, unknown>;
};
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
	services: Record<string, Service>;
	"x-environment": Record<string, string>;
};
const yamlFile = (path: string) => parse(readFileSync(join(ROOT, path), "utf8"));
const OBSERVE = ["prometheus", "grafana"];
const { prometheus, grafana } = compose.services as Record<"prometheus" | "grafana", Service>;

/** A bind mount `./repo/path:/container/path[:ro]` as [repo path, container path]. */
const bindMounts = (service: Service): [string, string][] =>
	(service.volumes ?? []).filter(v => v.startsWith("./")).map(v => v.split(":").slice(0, 2) as [string, string]);
/** The repository path mounted at `target` in the container. */
const mountedAt = (service: Service, target: string): string => {
	const mount = bindMounts(service).find(([, to]) => target === to || target.startsWith(`${to}/`));
	if (!mount) throw new Error(`nothing mounted at ${target}`);
	return join(mount[0], target.slice(mount[1].length));
};

/** The Dockerfile's ENV, then the service's: where a role's ports come from. */
const imageEnv = Object.fromEntries(
	[
		...readFileSync(join(ROOT, "Dockerfile"), "utf8")
			.replace(/\\\n/g, " ")
			.matchAll(/^ENV (.+)$/gm),
	].flatMap(m =>
		m[1]!
			.trim()
			.split(/\s+/)
			.map(pair => pair.split("=", 2))
	)
) as Record<string, string>;
/** Where a role serves /metrics (docs/operations.md): the REST gateway's PORT, else the live gateway's LIVE_PORT, else PORT. */
const metricsPort = (service: Service): string => {
	const env = { ...imageEnv, ...service.environment };
	const roles = String(env.SERVICES).split(",");
	return !roles.includes("api") && roles.includes("live") ? env.LIVE_PORT! : env.PORT!;
};

describe("the observe compose profile", () => {
	it("adds Prometheus and Grafana only under the profile, with pinned images; plain `docker compose up` is unchanged", () => {
		for (const name of OBSERVE) {
			const service = compose.services[name]!;
			expect(service.profiles, name).toEqual(["observe"]);
			expect(service.image, name).toMatch(/^[\w/-]+:v?\d+\.\d+\.\d+$/);
		}
		for (const [name, service] of Object.entries(compose.services).filter(([n]) => !OBSERVE.includes(n))) {
			expect(service.profiles, name).toBeUndefined();
			for (const dependency of Object.keys(service.depends_on ?? {})) expect(OBSERVE, `${name} → ${dependency}`).not.toContain(dependency);
		}
	});

	it("mounts only files and folders that are in the repository", () => {
		for (const name of OBSERVE)
			for (const [source] of bindMounts(compose.services[name]!)) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
	});

	it("publishes both on the host's loopback only", () => {
		for (const name of OBSERVE)
			for (const port of compose.services[name]!.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
	});

	it("scrapes every engine service on the port it serves /metrics on, and nothing else", () => {
		const config = yamlFile(mountedAt(prometheus, "/etc/prometheus/prometheus.yml"));
		expect(prometheus.entrypoint?.join(" ")).toContain("--config.file=/etc/prometheus/prometheus.yml");
		const [job] = config.scrape_configs;
		expect(config.scrape_configs).toHaveLength(1);
		expect(job.metrics_path).toBe("/metrics");
		const engines = Object.entries(compose.services).filter(([, s]) => s.image === "venta-engine");
		expect(engines.length).toBeGreaterThanOrEqual(5);
		const targets = job.static_configs.flatMap((c: { targets: string[] }) => c.targets);
		expect([...targets].sort()).toEqual(engines.map(([name, service]) => `${name}:${metricsPort(service)}`).sort());
	});

	it("sends METRICS_TOKEN as the bearer token, from the environment only, through a file in memory", () => {
		const { authorization } = yamlFile(mountedAt(prometheus, "/etc/prometheus/prometheus.yml")).scrape_configs[0];
		expect(authorization.type).toBe("Bearer");
		expect(authorization.credentials).toBeUndefined();
		const file: string = authorization.credentials_file;
		// The same variable the engines read (x-environment), written by the entrypoint before Prometheus starts.
		expect(prometheus.environment?.METRICS_TOKEN).toBe(compose["x-environment"].METRICS_TOKEN);
		expect(prometheus.entrypoint?.at(-1)).toMatch(new RegExp(`^printf %s "\\$\\$METRICS_TOKEN" > ${file} && exec /bin/prometheus `));
		expect(prometheus.tmpfs?.some(dir => file.startsWith(`${dir}/`))).toBe(true);
		// Unset, the file is empty and Prometheus sends `Bearer ` with nothing after it: the engine, asking for no token, lets it in.
		expect(metricsAuthorized(undefined, "Bearer ")).toBe(true);
		expect(metricsAuthorized("a-metrics-token-of-16+", "Bearer ")).toBe(false);
	});

	it("provisions the Prometheus data source under the uid the dashboard defaults to, at Prometheus's address", () => {
		const { datasources } = yamlFile(join(mountedAt(grafana, "/etc/grafana/provisioning"), "datasources/prometheus.yml"));
		expect(datasources).toHaveLength(1);
		const [source] = datasources;
		expect(source.type).toBe("prometheus");
		const listens = (prometheus.ports ?? []).map(p => p.split(":").pop());
		expect(listens).toContain(new URL(source.url).port);
		expect(new URL(source.url).hostname).toBe("prometheus");
		const variable = readDashboard().templating.list.find(v => v.type === "datasource");
		expect(variable?.current?.value).toBe(source.uid);
		// Every panel and query reads through that variable, so an imported copy can point at another Prometheus.
		for (const panel of allPanels(readDashboard().panels).filter(p => p.type !== "row")) {
			expect(panel.datasource?.uid, panel.title).toBe(`\${${variable!.name}}`);
			for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe(`\${${variable!.name}}`);
		}
	});

	it("provisions the dashboard from the folder that holds it, and opens it as the home dashboard", () => {
		const { providers } = yamlFile(join(mountedAt(grafana, "/etc/grafana/provisioning"), "dashboards/venta.yml"));
		const folder = mountedAt(grafana, providers[0].options.path);
		expect(statSync(join(ROOT, folder)).isDirectory()).toBe(true);
		expect(join(folder, "venta.json")).toBe(join(DASHBOARD_PATH));
		expect(mountedAt(grafana, grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!)).toBe(join(DASHBOARD_PATH));
		expect(grafana.depends_on).toEqual({ prometheus: { condition: "service_healthy" } });
	});
});

describe("the dashboard test's PromQL reading", () => {
	it("finds the metrics and leaves out functions, labels, strings, ranges and keywords", () => {
		expect(
			metricNames(
				'histogram_quantile(0.99, sum by (le, action) (rate(a_bucket{nodeID=~"$node", x="y_total"}[$__rate_interval]))) / ignoring(le) b_total offset 5m'
			)
		).toEqual(["a_bucket", "b_total"]);
		expect(metricNames("sum(c) or vector(0) and on (node) d > bool 1e3")).toEqual(["c", "d"]);
		expect(ratedMetrics('increase(e_total[5m]) + rate( f_bucket{a="b"}[1m]) + g')).toEqual(["e_total", "f_bucket"]);
	});
});
