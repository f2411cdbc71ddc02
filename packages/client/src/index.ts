/**
 * @venta/client: the live socket (connect), the vendors in view (VendorsInView), the vendor
 * publisher (connectVendor) and the protocol's frames and codes, for browsers and Node 22.
 */
export { connect, LiveClient } from "./live/client.ts";
export type {
	ConnectOptions,
	LiveEvents,
	LiveState,
	SocketConstructor,
	SocketLike,
	StateChange,
	TokenProvider,
	WatchSpec,
} from "./live/client.ts";
export { createBackoff, type Backoff, type BackoffOptions } from "./live/backoff.ts";
export { VendorsInView, type VendorInView, type VendorsInViewEvents } from "./store.ts";
export {
	connectVendor,
	VendorPublisher,
	type Position,
	type PublisherEvents,
	type PublisherOptions,
	type PublisherRate,
	type PublisherStats,
} from "./publisher.ts";
export { Emitter, type Listener } from "./emitter.ts";
export * from "./protocol/codes.ts";
export type * from "./protocol/frames.ts";
export { createRestClient, type RestClient, type RestOptions, type Schema } from "./rest/client.ts";
export type { components, operations, paths } from "./rest/client.ts";
