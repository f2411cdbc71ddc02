/**
 * The frames of the live socket protocol as types, client and server side. Dependency-free:
 * the map page (and any client) imports these instead of declaring its own.
 */
import type { ErrorCode } from "./codes.ts";

/** `[west, south, east, north]` in degrees (the same tuple as lib/geo's BBox). */
export type WatchBBox = readonly [number, number, number, number];

/** Client → server: replace the watch set. */
export type WatchFrame =
	| { op: "watch"; cells: string[] }
	| { op: "watch"; bbox: WatchBBox }
	| { op: "watch"; near: { lat: number; lng: number; radius: number } };
/** Client → server, vendor sockets: a position (checked by lib/position). */
export type PosFrame = { op: "pos"; lat?: unknown; lng?: unknown; ts?: unknown; acc?: unknown; hdg?: unknown; spd?: unknown };
export type PingFrame = { op: "ping" };
/** Client → server: sign the socket in (first frame, instead of `?token=`) or refresh its token (same user). */
export type AuthFrame = { op: "auth"; token: string };
/**
 * Client → server, signed-in sockets: the customer's own position, for their alerts that follow
 * them (`at: "here"`); kept in memory only, never stored nor shown to anyone. `stop` ends sharing.
 */
export type HereFrame = { op: "here"; lat: number; lng: number } | { op: "here"; stop: true };
export type ClientFrame = WatchFrame | PosFrame | PingFrame | AuthFrame | HereFrame;

/** A vendor position as watchers see it (the wire shape of `pos` and snapshot entries; accuracy stays private). */
export type VendorPositionView = { id: string; lat: number; lng: number; cell: string; ts: number; hdg?: number; spd?: number };

/** Server → client. */
export type SnapshotFrame = { op: "snapshot"; cells: string[]; vendors: VendorPositionView[] };
export type PositionFrame = { op: "pos" } & VendorPositionView;
export type GoneFrame = { op: "gone"; id: string; cell: string };
export type ErrorFrame = { op: "error"; code: ErrorCode; message: string };
export type PongFrame = { op: "pong" };
/** The answer to `auth`: who the socket is now and until when its token holds (`exp`, epoch seconds). */
export type AuthedFrame = { op: "authed"; user: string; exp: number };
/**
 * One of the user's alerts fired (sent to every open socket of that user, on any node). `eventId`
 * is the domain event's id: the same alert on two sockets, or again after a retry, has one id.
 */
export type AlertFrame = {
	op: "alert";
	eventId: string;
	/** The alert's id (`/api/me/alerts`). */
	fenceId: string;
	kind: "vendor_nearby" | "area";
	name?: string;
	vendorId: string;
	transition: "enter" | "exit" | "dwell";
	/** Metres from the alert's center (a circle), 0 inside an area. */
	distance: number;
	/** The vendor's position that fired it (`ts` epoch ms). */
	position: { lat: number; lng: number; ts: number };
};
/**
 * Server → vendor sockets: how many customers watch the vendor's cell and its ring (the busiest of
 * those seven cells; 0 below the privacy threshold) and the position rate that serves them. Sent
 * when it changes meaningfully, at most every few seconds; following `suggestedHz` saves battery.
 */
export type InterestFrame = { op: "interest"; watchers: number; suggestedHz: number };
export type ServerFrame = SnapshotFrame | PositionFrame | GoneFrame | ErrorFrame | PongFrame | AuthedFrame | AlertFrame | InterestFrame;
