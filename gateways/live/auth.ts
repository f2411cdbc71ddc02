import { Errors, type Logger, type ServiceBroker, type Span } from "moleculer";
import type { TokenVerifier } from "../../lib/auth.ts";
import type { Caller } from "../../lib/identity.ts";
import { inSpan } from "../../runtime/tracing.ts";
import type { ResolveParams } from "../../services/users/contract.ts";
import type { AuthorizeBroadcastParams } from "../../services/vendors/contract.ts";
import type { LiveHub } from "./hub.ts";
import { encode } from "./protocol/codec.ts";
import { CLOSE_CODES, ERROR_CODES, type ErrorCode } from "./protocol/codes.ts";
import type { AuthFrame } from "./protocol/frames.ts";
import type { LiveSocket } from "./socket.ts";

/** A verified, resolved token: the user, when it expires, and the vendor it may broadcast for. */
export type Identification = { user: Caller; expiresAt: number; vendorId: string | null };

export type SocketAuthDeps = {
	broker: ServiceBroker;
	verifyToken: TokenVerifier;
	hub: LiveHub;
	logger: Logger;
	/** AUTH_GRACE_S in ms: how long a socket may stay after its token's `exp` (or, as a vendor, without a token). */
	graceMs: number;
	sendError(ws: LiveSocket, code: ErrorCode, message: string): void;
};

/**
 * Verifies `token`, resolves its user (created on first use; a deleted account is refused) and,
 * for a vendor socket, checks that the user may broadcast for `vendorId` now. Throws the
 * service's client error (401/403/404) or, when a service cannot answer, that error. The calls
 * are children of `span` (the upgrade's or the auth frame's) when tracing is on.
 */
export async function identify(
	deps: Pick<SocketAuthDeps, "broker" | "verifyToken">,
	token: string,
	vendorId: string | null,
	span: Span | undefined
): Promise<Identification> {
	const verified = await deps.verifyToken(token);
	const resolved = await deps.broker.call<Caller, ResolveParams>(
		"users.resolve",
		{ id: verified.sub, claims: verified.claims },
		{ parentSpan: span }
	);
	const user: Caller = { id: resolved.id, role: resolved.role };
	if (vendorId)
		await deps.broker.call<unknown, AuthorizeBroadcastParams>(
			"vendors.authorizeBroadcast",
			{ id: vendorId },
			{ meta: { user }, parentSpan: span }
		);
	return { user, expiresAt: verified.expiresAt, vendorId };
}

/**
 * The life of a socket's token after the upgrade: `{"op":"auth"}` signs a socket in (the token in
 * the first frame instead of the URL) or refreshes it (same user only; role and vendor rights are
 * checked again), and a sweep closes sockets whose token expired more than AUTH_GRACE_S ago, or
 * vendor sockets that never sent one, with TOKEN_EXPIRED.
 */
export class SocketAuth {
	readonly #deps: SocketAuthDeps;

	constructor(deps: SocketAuthDeps) {
		this.#deps = deps;
	}

	/** Closes the sockets whose time is up (the gateway calls it every second). */
	sweep(now: number): void {
		const { hub, graceMs } = this.#deps;
		for (const ws of hub.sockets) {
			const ud = ws.getUserData();
			const deadline = ud.tokenExpiresAt ?? (ud.awaitingVendorId ? ud.openedAt : null);
			if (deadline === null || now <= deadline + graceMs) continue;
			hub.close(ws, CLOSE_CODES.TOKEN_EXPIRED, ud.tokenExpiresAt === null ? "no token sent" : "token expired");
		}
	}

	/** An `auth` frame: identify the token, then apply it if it is still the socket's latest. */
	async onFrame(ws: LiveSocket, frame: AuthFrame): Promise<void> {
		const ud = ws.getUserData();
		const gen = ++ud.authGen;
		let found: Identification;
		try {
			found = await inSpan(this.#deps.broker, "live auth", "live", span => {
				span?.addTags({ connId: ud.connId });
				return identify(this.#deps, frame.token, ud.vendorId ?? ud.awaitingVendorId, span);
			});
		} catch (err) {
			if (!ud.closed && ud.authGen === gen) this.#refused(ws, err);
			return;
		}
		if (ud.closed || ud.authGen !== gen) return;
		if (ud.user && ud.user.id !== found.user.id) {
			this.#deps.sendError(ws, ERROR_CODES.FORBIDDEN, "This token is for another user; a socket keeps its user (open a new socket)");
			return;
		}
		ud.user = found.user;
		ud.tokenExpiresAt = found.expiresAt;
		this.#deps.hub.users.add(ws);
		if (ud.awaitingVendorId) {
			ud.vendorId = ud.awaitingVendorId;
			ud.awaitingVendorId = null;
			this.#deps.hub.registerVendor(ws);
		}
		ws.send(encode.authed(found.user.id, found.expiresAt));
	}

	/**
	 * A token that did not identify: a vendor socket that may not broadcast is closed (4010), a deleted
	 * account too (4001); a bad token is an error frame (the socket keeps its current token, and
	 * its deadline); a service that cannot answer is UNAVAILABLE (send the frame again).
	 */
	#refused(ws: LiveSocket, err: unknown): void {
		const { hub, sendError, logger } = this.#deps;
		if (!(err instanceof Errors.MoleculerClientError)) {
			logger.warn({ err: (err as Error).message, connId: ws.getUserData().connId }, "Socket auth could not be checked");
			sendError(ws, ERROR_CODES.UNAVAILABLE, "Authentication could not be checked; send the auth frame again");
			return;
		}
		const ud = ws.getUserData();
		const type = err.type;
		if (type === "UNAUTHORIZED") hub.close(ws, CLOSE_CODES.UNAUTHORIZED, "account deleted");
		else if ((ud.vendorId || ud.awaitingVendorId) && (err.code === 403 || err.code === 404))
			hub.close(ws, CLOSE_CODES.BROADCAST_REVOKED, "may not broadcast");
		else sendError(ws, err.code === 403 || err.code === 404 ? ERROR_CODES.FORBIDDEN : ERROR_CODES.UNAUTHORIZED, err.message);
	}
}
