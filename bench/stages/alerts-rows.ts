/** The alerts stage's figures (11–13) and its rows in the one table: compared with the engine's own 0-alert figure. */
import { isShort } from "../lib/checks.ts";
import type { IngestAccepted, IngestRound } from "../lib/phases.ts";
import { fmt, fmtSummary, type latencyStats, summarize } from "../lib/stats.ts";
import { atMost, med, shortMark, verdict, type Row } from "../lib/table.ts";

type Latency = ReturnType<typeof latencyStats>;
export type LatencyRound = {
	hops: number;
	alerts: number;
	webhooks: number;
	/** Vendor frame sent → alert frame received. */
	alert: Latency;
	/** Vendor frame sent → webhook request received. */
	webhook: Latency;
	/** The event's `meta.timestamp` → webhook request received (every proximity alert, the ingest vendors' too). */
	webhookFromEvent: Latency;
	clientCpuPercent: number;
	errors: Record<string, number>;
};
export type AlertsFigures = {
	/** `startS`: engine start → every fence loaded in geo (the 0-alert start is not timed: it onboards the vendors). */
	ingest: { alerts: number; rounds: IngestRound[]; accepted: IngestAccepted; fencesPerCell: number[]; startS?: number }[];
	latency?: LatencyFigures;
	/** The same drive with NATS_URL (webhooks on JetStream), no ingest, the drive fences only. */
	latencyJetStream?: LatencyFigures;
};
export type LatencyFigures = { rounds: LatencyRound[]; hops: number; alerts: number; webhooks: number };

const TARGET_RATIO = 1.3;
const TARGET_ALERT_P99_MS = 50;
const TARGET_WEBHOOK_P99_MS = 1000;

const latencyCell = (rounds: LatencyRound[], pick: (r: LatencyRound) => Latency, digits = 1) =>
	`p50 ${fmt(med(rounds, r => pick(r).p50).median, digits)} / p99 ${fmtSummary(
		med(rounds, r => pick(r).p99),
		"",
		digits
	)} / max ${fmt(Math.max(...rounds.map(r => pick(r).max)), digits)} ms (${rounds.reduce((a, r) => a + pick(r).n, 0)} samples)`;

function ingestRows(ingest: AlertsFigures["ingest"]): Row[] {
	const us = (i: number) => med(ingest[i]?.rounds, r => r.usPerPosition);
	const base = us(0).median;
	return ingest.map((level, i) => {
		const cells = summarize(level.fencesPerCell);
		const ratio = us(i).median / base;
		const perFence = cells.median > 0 ? `, ${fmt((us(i).median - base) / cells.median, 3)} µs per fence in the cell` : "";
		const last = i === ingest.length - 1 && level.alerts > 0;
		return {
			figure: `11 Ingest 200 × 10 Hz with ${fmt(level.alerts, 0)} alerts: server CPU per position`,
			venta: `${fmtSummary(us(i), " µs")}${shortMark(level.accepted)}, ${fmt(med(level.rounds, r => r.mainThreadShare).median * 100, 0)}% on the main thread`,
			comparison:
				level.alerts === 0
					? "the engine's own no-alert figure"
					: `0 alerts ${fmt(base)} µs; fences per vendor's cell ${fmt(cells.median, 0)} [${fmt(cells.min, 0)}–${fmt(cells.max, 0)}]${perFence}; started with them loaded in ${fmt(level.startS ?? NaN, 1)} s`,
			ratio: level.alerts === 0 ? "—" : `${fmt(ratio)}× 0 alerts`,
			target: last ? `≤ ${TARGET_RATIO}× 0 alerts` : "—",
			result: last ? verdict(atMost(ratio, TARGET_RATIO)) : "—",
		};
	});
}

function webhookRow(mode: string, lat: LatencyFigures): Row {
	const p99 = med(lat.rounds, r => r.webhook.p99).median;
	return {
		figure: `13 Webhook lag vendor frame → healthy receiver, ${mode}`,
		venta: latencyCell(lat.rounds, r => r.webhook, 0) + shortMark({ ratio: lat.webhooks / lat.hops }),
		comparison: `from the event's meta.timestamp: ${latencyCell(lat.rounds, r => r.webhookFromEvent, 0)}`,
		ratio: "—",
		target: `p99 ≤ ${TARGET_WEBHOOK_P99_MS / 1000} s`,
		result: verdict(Number.isFinite(p99) ? p99 <= TARGET_WEBHOOK_P99_MS && !isShort({ ratio: lat.webhooks / lat.hops }) : undefined),
	};
}

export function alertsRows(f: AlertsFigures | undefined): Row[] {
	if (!f) return [];
	const rows = f.ingest?.length ? ingestRows(f.ingest) : [];
	const lat = f.latency;
	if (!lat?.rounds.length) return rows;
	const alertsShort = shortMark({ ratio: lat.alerts / lat.hops });
	const alertP99 = med(lat.rounds, r => r.alert.p99).median;
	const enough = lat.rounds.every(r => r.alert.n >= 200);
	rows.push({
		figure: "12 Alert latency vendor frame → alert frame (100 vendors crossing circles at 1 Hz, ingest on, 100 000 alerts)",
		venta: latencyCell(lat.rounds, r => r.alert) + alertsShort,
		comparison: `${lat.alerts} alert frames for ${lat.hops} crossings${enough ? "" : "; a round had < 200 samples"}`,
		ratio: "—",
		target: `p99 ≤ ${TARGET_ALERT_P99_MS} ms`,
		result: verdict(Number.isFinite(alertP99) ? alertP99 <= TARGET_ALERT_P99_MS && !isShort({ ratio: lat.alerts / lat.hops }) : undefined),
	});
	rows.push(webhookRow("embedded outbox, ingest on, 100 000 alerts", lat));
	if (f.latencyJetStream?.rounds.length)
		rows.push(webhookRow("JetStream (NATS_URL), no ingest, the drive alerts only", f.latencyJetStream));
	return rows;
}
