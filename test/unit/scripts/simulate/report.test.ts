import { describe, expect, it } from "vitest";
import { SentLedger, type Sampled } from "../../../../scripts/simulate/report.ts";

/** A publisher as the ledger reads it: what it sent, and what its latest interest frame said. */
const publisher = (watchers: number | undefined, suggestedHz: number | undefined) =>
	({ stats: { sent: 0 }, watchers, suggestedHz }) satisfies Sampled;

describe("simulator positions report", () => {
	it("gives positions per vendor per minute overall and by what each vendor's latest interest frame said", () => {
		const ledger = new SentLedger();
		const watched = publisher(4, 2.33);
		const unwatched = publisher(0, 0.1);
		const fresh = publisher(undefined, undefined);
		ledger.sample([], 0);
		// A minute: the watched vendor sends 60, the unwatched one 6, the one without a frame 30 in its first 30 s.
		for (let s = 1; s <= 60; s++) {
			watched.stats.sent += 1;
			if (s % 10 === 0) unwatched.stats.sent += 1;
			const online = s <= 30 ? [watched, unwatched, fresh] : [watched, unwatched];
			if (s <= 30) fresh.stats.sent += 1;
			ledger.sample(online, s * 1000);
		}
		expect(ledger.report(3, true, 60_000)).toEqual({
			report: "positions",
			elapsedS: 60,
			followInterest: true,
			vendors: 3,
			sent: 96,
			perVendorPerMin: 38.4,
			watched: { sent: 60, vendorMinutes: 1, perVendorPerMin: 60 },
			unwatched: { sent: 6, vendorMinutes: 1, perVendorPerMin: 6 },
			unknown: { sent: 30, vendorMinutes: 0.5, perVendorPerMin: 60 },
		});
	});

	it("counts a vendor under the privacy threshold (0 watchers told, 1 Hz asked) as watched", () => {
		const ledger = new SentLedger();
		const hidden = publisher(0, 1);
		ledger.sample([hidden], 0);
		hidden.stats.sent = 60;
		ledger.sample([hidden], 60_000);
		expect(ledger.report(1, true, 60_000).watched).toEqual({ sent: 60, vendorMinutes: 1, perVendorPerMin: 60 });
	});

	it("counts a vendor's positions in the bucket it is in when they are sampled, and a closing publisher's last ones", () => {
		const ledger = new SentLedger();
		const p = { stats: { sent: 0 }, watchers: 0, suggestedHz: 0.1 };
		ledger.sample([p], 0);
		p.stats.sent = 2;
		ledger.sample([p], 60_000);
		p.watchers = 12;
		p.suggestedHz = 5;
		p.stats.sent = 62;
		ledger.sample([p], 120_000);
		p.stats.sent = 65;
		ledger.settle(p);
		const report = ledger.report(1, false, 120_000);
		expect(report.unwatched).toEqual({ sent: 2, vendorMinutes: 1, perVendorPerMin: 2 });
		expect(report.watched).toEqual({ sent: 63, vendorMinutes: 1, perVendorPerMin: 63 });
		expect(report.unknown).toBeUndefined();
		expect(report.sent).toBe(65);
	});
});
