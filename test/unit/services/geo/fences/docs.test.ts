import { describe, expect, it } from "vitest";
import { ALERT_METRICS } from "../../../../../services/geo/alerting.ts";
import { EXIT_MARGIN_M, EXIT_RADIUS_FACTOR, HERE_TTL_S } from "../../../../../services/alerts/contract.ts";
import { FENCE_INDEX_RES } from "../../../../../services/geo/fences/index.ts";
import { doc, tableAfter } from "../../../../helpers/docs.ts";

describe("docs/alerts.md Evaluation against the code", () => {
	it("lists the metrics geo registers, and no other", () => {
		const metrics = tableAfter(doc("alerts.md"), "### Evaluation metrics").map(([name]) => name);
		expect(metrics.sort()).toEqual(
			Object.values(ALERT_METRICS)
				.map(m => m.replaceAll(".", "_"))
				.sort()
		);
	});

	it("states the constants it evaluates with", () => {
		const section = doc("alerts.md").split("## Evaluation")[1]!.split("\n## ")[0]!;
		expect(section).toContain(`resolution ${FENCE_INDEX_RES} (\`FENCE_INDEX_RES\``);
		expect(section).toContain(`\`radius\` × ${EXIT_RADIUS_FACTOR} (\`EXIT_RADIUS_FACTOR\`)`);
		expect(section).toContain(`${EXIT_MARGIN_M} m (\`EXIT_MARGIN_M\`)`);
		expect(section).toContain(`${HERE_TTL_S / 60} minutes (\`HERE_TTL_S\`)`);
	});
});
