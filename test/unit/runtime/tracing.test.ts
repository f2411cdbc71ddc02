import { describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../../config/index.ts";
import { tracingOptions, ZipkinExporter, zipkinTraceId } from "../../../runtime/tracing.ts";

const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: ":memory:", ...env }).tracing;

describe("TRACING configuration", () => {
	it("is off unless set, with Zipkin's usual endpoint and every trace kept", () => {
		expect(load({})).toEqual({ exporter: "off", endpoint: "http://localhost:9411", sampleRate: 1 });
		expect(tracingOptions({ tracing: load({}), logPretty: false })).toEqual({ enabled: false });
	});

	it("takes console or zipkin, an http(s) endpoint and a sampling rate above 0 and at most 1", () => {
		expect(load({ TRACING: "Zipkin", TRACING_ENDPOINT: "http://otel-collector:9411/", TRACING_SAMPLE_RATE: "0.25" })).toEqual({
			exporter: "zipkin",
			endpoint: "http://otel-collector:9411",
			sampleRate: 0.25,
		});
		expect(load({ TRACING: "console" }).exporter).toBe("console");
		expect(() => load({ TRACING: "jaeger" })).toThrow(/TRACING must be one of off, console, zipkin/);
		expect(() => load({ TRACING_ENDPOINT: "localhost:9411" })).toThrow(/TRACING_ENDPOINT must be a URL starting with http/);
		expect(() => load({ TRACING_SAMPLE_RATE: "0" })).toThrow(/TRACING_SAMPLE_RATE must be a number above 0 and at most 1/);
		expect(() => load({ TRACING_SAMPLE_RATE: "1.5" })).toThrow(/TRACING_SAMPLE_RATE/);
	});

	it("traces actions and events without their params, with the node id on every span", () => {
		const options = tracingOptions({ tracing: load({ TRACING: "zipkin" }), logPretty: false });
		expect(options).toMatchObject({
			enabled: true,
			events: true,
			sampling: { rate: 1 },
			tags: { action: { params: false }, event: { params: false } },
		});
		expect((options as { exporter: unknown }).exporter).toBeInstanceOf(ZipkinExporter);
	});
});

describe("Zipkin trace ids", () => {
	it("are the request id without hyphens when it is a UUID or 16/32 hex digits", () => {
		expect(zipkinTraceId("4bf92f35-77b3-4da6-a3ce-929d0e0e4736")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		expect(zipkinTraceId("4BF92F3577B34DA6A3CE929D0E0E4736")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		expect(zipkinTraceId("a3ce929d0e0e4736")).toBe("a3ce929d0e0e4736");
	});

	it("are derived, stable and valid for any other id a caller sent", () => {
		const id = zipkinTraceId("order-42");
		expect(id).toMatch(/^[0-9a-f]{32}$/);
		expect(zipkinTraceId("order-42")).toBe(id);
		expect(zipkinTraceId("order-43")).not.toBe(id);
	});

	it("keep the whole request id in the exported span; span ids are Zipkin's 16 hex digits", async () => {
		const broker = new ServiceBroker({ logger: false, tracing: { enabled: true } });
		const exporter = new ZipkinExporter({ interval: 0 });
		exporter.init(broker.tracer);
		const span = broker.tracer.startSpan("a span", {
			traceID: "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
			parentID: "00f067aa-0ba9-02b7-0000-000000000000",
		});
		span.finish();
		const payload = exporter.makePayload(span);
		expect(payload).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentId: "00f067aa0ba902b7", name: "a span" });
		expect(payload.id).toMatch(/^[0-9a-f]{16}$/);
	});
});
