import { describe, expect, it } from "vitest";
import { natsConnectionOptions } from "../../../runtime/nats.ts";

const none = { credsFile: undefined, tls: undefined };

describe("NATS connection options", () => {
	it("takes user and password, or a token, from the URL and keeps them out of the server list", () => {
		expect(natsConnectionOptions("nats://venta:p%40ss@nats:4222", none)).toEqual({ servers: ["nats:4222"], user: "venta", pass: "p@ss" });
		expect(natsConnectionOptions("nats://s3cr3t@nats:4222", none)).toEqual({ servers: ["nats:4222"], token: "s3cr3t" });
		expect(natsConnectionOptions("nats://a:4222,nats://b:4222", none)).toEqual({ servers: ["a:4222", "b:4222"] });
		// A cluster: every server, in the order given; the first URL's credentials apply to all of them.
		expect(natsConnectionOptions("nats://venta:pw@a:4222, nats://b:4223,nats://c:4224", none)).toEqual({
			servers: ["a:4222", "b:4223", "c:4224"],
			user: "venta",
			pass: "pw",
		});
	});

	it("asks for TLS, with the CA and a client certificate when given", () => {
		expect(
			natsConnectionOptions("tls://nats:4222", { credsFile: undefined, tls: { ca: undefined, cert: undefined, key: undefined } }).tls
		).toEqual({});
		expect(
			natsConnectionOptions("nats://nats:4222", { credsFile: undefined, tls: { ca: "/ca.pem", cert: "/c.pem", key: "/k.pem" } }).tls
		).toEqual({
			caFile: "/ca.pem",
			certFile: "/c.pem",
			keyFile: "/k.pem",
		});
	});
});
