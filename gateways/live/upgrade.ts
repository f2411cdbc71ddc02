import type { HttpRequest, HttpResponse, us_socket_context_t } from "uWebSockets.js";
import { Errors, type ServiceBroker } from "moleculer";
import { bearerToken, type TokenVerifier } from "../../lib/auth.ts";
import { badRequest, errorBody, noToken, type ErrorBody } from "../../lib/errors.ts";
import { isVendorId } from "../../lib/ids.ts";
import type { Caller } from "../../lib/identity.ts";
import type { AuthorizeBroadcastParams } from "../../services/vendors/contract.ts";
import type { ResolveParams } from "../../services/users/contract.ts";
import { sendJson } from "./http.ts";
import type { LiveHub } from "./hub.ts";
import { createSocketData, type SocketIdentity } from "./socket.ts";

export type UpgradeDeps = { broker: ServiceBroker; verifyToken: TokenVerifier; hub: LiveHub; positionMaxHz: number };

const UNAVAILABLE: ErrorBody = { name: "ServiceUnavailableError", message: "Service unavailable", code: 503, type: "SERVICE_UNAVAILABLE" };

/** The answer to a refused upgrade: the caller's mistake as it is (400/401/403/404), anything else 503 (retry). */
function refusal(err: unknown): ErrorBody {
	return err instanceof Errors.MoleculerClientError ? errorBody(err) : UNAVAILABLE;
}

/** Who is connecting: an anonymous watcher, a user, or the owner of a vendor that may broadcast now. */
async function authenticate(deps: UpgradeDeps, token: string | undefined, vendorId: string | undefined): Promise<SocketIdentity> {
	if (vendorId !== undefined && !isVendorId(vendorId)) throw badRequest("vendor must be a vendor id");
	if (!token) {
		if (vendorId !== undefined) throw noToken("A vendor socket needs the owner's token");
		return { user: null, vendorId: null };
	}
	const verified = await deps.verifyToken(token);
	const user = await deps.broker.call<Caller, ResolveParams>("users.resolve", { id: verified.sub, claims: verified.claims });
	const caller: Caller = { id: user.id, role: user.role };
	if (vendorId === undefined) return { user: caller, vendorId: null };
	await deps.broker.call<unknown, AuthorizeBroadcastParams>("vendors.authorizeBroadcast", { id: vendorId }, { meta: { user: caller } });
	return { user: caller, vendorId };
}

/**
 * The upgrade of `/live`: the token (`?token=` or `Authorization: Bearer`) and `?vendor=` are
 * checked before the socket exists; a refusal is an HTTP answer in the one error body shape.
 */
export function upgradeHandler(deps: UpgradeDeps) {
	const { hub } = deps;
	return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
		const key = req.getHeader("sec-websocket-key");
		const protocol = req.getHeader("sec-websocket-protocol");
		const extensions = req.getHeader("sec-websocket-extensions");
		if (hub.draining) {
			sendJson(res, 503, { ...UNAVAILABLE, message: "Shutting down" }, { "Retry-After": "1" });
			return;
		}
		const token = req.getQuery("token") || bearerToken(req.getHeader("authorization"));
		const vendorId = req.getQuery("vendor");
		let aborted = false;
		res.onAborted(() => (aborted = true));
		authenticate(deps, token, vendorId).then(
			identity => {
				if (aborted) return;
				if (hub.draining) return sendJson(res, 503, { ...UNAVAILABLE, message: "Shutting down" }, { "Retry-After": "1" });
				res.cork(() => res.upgrade(createSocketData(identity, deps.positionMaxHz), key, protocol, extensions, context));
			},
			err => {
				if (!aborted) {
					const body = refusal(err);
					sendJson(res, body.code, body);
				}
			}
		);
	};
}
