import type { HttpRequest, HttpResponse, us_socket_context_t } from "uWebSockets.js";
import { Errors, type Logger, type ServiceBroker, type Span } from "moleculer";
import { bearerToken, type TokenVerifier } from "../../lib/auth.ts";
import { clientAddress } from "../../lib/client-address.ts";
import { badRequest, errorBody, type ErrorBody } from "../../lib/errors.ts";
import { isVendorId } from "../../lib/ids.ts";
import { inSpan } from "../../runtime/tracing.ts";
import { identify } from "./auth.ts";
import { sendJson } from "./http.ts";
import type { LiveHub } from "./hub.ts";
import { createSocketData, type SocketBudgets, type SocketIdentity } from "./socket.ts";

export type UpgradeDeps = {
	broker: ServiceBroker;
	verifyToken: TokenVerifier;
	hub: LiveHub;
	logger: Logger;
	budgets: SocketBudgets;
	maxSocketsPerIp: number;
	/** The header a trusted proxy puts the client address in; unset: the peer address. */
	clientIpHeader: string | undefined;
};

/** What an upgrade request says, read at once (uWS' request object is gone after the first await). */
type UpgradeRequest = {
	key: string;
	protocol: string;
	extensions: string;
	token: string | undefined;
	vendorId: string | undefined;
	address: string;
};

const UNAVAILABLE: ErrorBody = { name: "ServiceUnavailableError", message: "Service unavailable", code: 503, type: "SERVICE_UNAVAILABLE" };
const SHUTTING_DOWN: ErrorBody = { ...UNAVAILABLE, message: "Shutting down" };
const TOO_MANY: ErrorBody = {
	name: "MoleculerClientError",
	message: "Too many connections from this address",
	code: 429,
	type: "RATE_LIMITED",
};

/** The answer to a refused upgrade: the caller's mistake as it is (400/401/403/404), anything else 503 (retry). */
function refusal(err: unknown): ErrorBody {
	return err instanceof Errors.MoleculerClientError ? errorBody(err) : UNAVAILABLE;
}

function readRequest(res: HttpResponse, req: HttpRequest, clientIpHeader: string | undefined): UpgradeRequest {
	return {
		key: req.getHeader("sec-websocket-key"),
		protocol: req.getHeader("sec-websocket-protocol"),
		extensions: req.getHeader("sec-websocket-extensions"),
		token: req.getQuery("token") || bearerToken(req.getHeader("authorization")),
		vendorId: req.getQuery("vendor"),
		address: clientAddress(
			clientIpHeader ? req.getHeader(clientIpHeader) : undefined,
			Buffer.from(res.getRemoteAddressAsText()).toString()
		),
	};
}

/**
 * Who is connecting: an anonymous watcher, a user, or the owner of a vendor that may broadcast
 * now. Without a token the socket is anonymous, or (with `?vendor=`) a vendor socket that must
 * send its token in the first frame (`{"op":"auth"}`) within AUTH_GRACE_S.
 */
async function authenticate(
	deps: UpgradeDeps,
	{ token, vendorId, address }: UpgradeRequest,
	span: Span | undefined
): Promise<SocketIdentity> {
	span?.addTags({ token: Boolean(token), vendor: vendorId !== undefined });
	if (vendorId !== undefined && !isVendorId(vendorId)) throw badRequest("vendor must be a vendor id");
	if (!token) return { user: null, vendorId: null, awaitingVendorId: vendorId ?? null, tokenExpiresAt: null, address };
	const found = await identify(deps, token, vendorId ?? null, span);
	return { user: found.user, vendorId: found.vendorId, awaitingVendorId: null, tokenExpiresAt: found.expiresAt, address };
}

/**
 * The upgrade of `/live`: the token (`?token=` or `Authorization: Bearer`) and `?vendor=` are
 * checked before the socket exists, each client address holds at most `maxSocketsPerIp` sockets,
 * and a refusal is an HTTP answer in the one error body shape.
 */
export function upgradeHandler(deps: UpgradeDeps) {
	const { hub } = deps;
	return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
		const request = admit(deps, res, req);
		if (!request) return;
		let aborted = false;
		res.onAborted(() => {
			aborted = true;
			hub.release(request.address);
		});
		inSpan(deps.broker, "live upgrade", "live", span => authenticate(deps, request, span)).then(
			identity => {
				if (aborted) return;
				if (hub.draining) {
					hub.release(request.address);
					sendJson(res, 503, SHUTTING_DOWN, { "Retry-After": "1" });
					return;
				}
				// From here the socket holds the address' place; closing it gives it back.
				res.cork(() => res.upgrade(createSocketData(identity, deps.budgets), request.key, request.protocol, request.extensions, context));
			},
			err => {
				if (aborted) return;
				hub.release(request.address);
				const body = refusal(err);
				sendJson(res, body.code, body);
			}
		);
	};
}

/** Reads the request and holds a place for its address; null (and the answer sent) when it is refused at once. */
function admit(deps: UpgradeDeps, res: HttpResponse, req: HttpRequest): UpgradeRequest | null {
	let request: UpgradeRequest;
	try {
		if (deps.hub.draining) {
			sendJson(res, 503, SHUTTING_DOWN, { "Retry-After": "1" });
			return null;
		}
		request = readRequest(res, req, deps.clientIpHeader);
	} catch (err) {
		deps.logger.error({ err: (err as Error).message }, "Upgrade request could not be read");
		sendJson(res, 503, UNAVAILABLE);
		return null;
	}
	if (deps.hub.reserve(request.address, deps.maxSocketsPerIp)) return request;
	sendJson(res, 429, TOO_MANY, { "Retry-After": "10" });
	return null;
}
