import { describe, expect, it } from "vitest";
import { INBOX_REASONS, WEBHOOK_CLOCK_SKEW_MS } from "../../../../services/webhooks/contract.ts";
import { doc, tableAfter } from "../../../helpers/docs.ts";

/** docs/webhooks.md is the senders' and operators' contract: its reasons are the code's. */
describe("docs/webhooks.md against the code", () => {
	it("lists every inbox reason with the status it gives, and no other", () => {
		const rows = tableAfter(doc("webhooks.md"), "A `200` says what the event did");
		expect(Object.fromEntries(rows.map(([reason, status]) => [reason, status]))).toEqual(INBOX_REASONS);
		expect(rows).toHaveLength(Object.keys(INBOX_REASONS).length);
	});

	it("states the clock skew the code allows", () => {
		expect(doc("webhooks.md")).toContain(`more than ${WEBHOOK_CLOCK_SKEW_MS / 60_000} min (\`WEBHOOK_CLOCK_SKEW_MS\`)`);
	});
});
