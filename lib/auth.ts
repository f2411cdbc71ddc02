import { errors as joseErrors, decodeProtectedHeader, importSPKI, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { unauthorized } from "./errors.ts";
import { USER_ID } from "./ids.ts";

/** What a verified session token says about its bearer; `expiresAt` is its `exp` in epoch ms. */
export type VerifiedToken = { sub: string; expiresAt: number; claims: JWTPayload };

/** The token settings (named as in the engine's Config, which can be passed as it is). */
export type TokenVerifierOptions = {
	/** PEM public key: Clerk session tokens, RS256. */
	clerkJwtKey?: string | undefined;
	/** Allowed `azp` origins; empty = not checked. */
	clerkAuthorizedParties?: string[];
	/** The `iss` Clerk tokens must carry (the Frontend API URL); unset = not checked. */
	clerkIssuer?: string | undefined;
	/** HS256 secret for local dev tokens. */
	devSecret?: string | undefined;
};

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

const CLOCK_SKEW_S = 5;

/**
 * Offline verification of bearer tokens. Each algorithm is accepted only with its own key:
 * RS256 with CLERK_JWT_KEY, HS256 with the dev secret; anything else (and `alg: none`) is refused.
 */
export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
	let rsaKey: Promise<CryptoKey> | undefined;
	const hsKey = opts.devSecret ? new TextEncoder().encode(opts.devSecret) : undefined;
	const parties = opts.clerkAuthorizedParties ?? [];

	return async function verify(token: string): Promise<VerifiedToken> {
		let alg: string | undefined;
		try {
			alg = decodeProtectedHeader(token).alg;
		} catch {
			throw unauthorized("Malformed token");
		}
		let key: CryptoKey | Uint8Array;
		if (alg === "RS256" && opts.clerkJwtKey) {
			rsaKey ??= importSPKI(opts.clerkJwtKey, "RS256");
			key = await rsaKey;
		} else if (alg === "HS256" && hsKey) key = hsKey;
		else throw unauthorized(`Token algorithm ${alg ?? "none"} is not accepted`);

		let payload: JWTPayload;
		try {
			// Dev tokens have no issuer; only Clerk's are checked against CLERK_ISSUER.
			const issuer = alg === "RS256" ? opts.clerkIssuer : undefined;
			({ payload } = await jwtVerify(token, key, {
				algorithms: [alg],
				clockTolerance: CLOCK_SKEW_S,
				requiredClaims: ["exp", "sub"],
				...(issuer ? { issuer } : {}),
			}));
		} catch (err) {
			if (err instanceof joseErrors.JWTExpired) throw unauthorized("Token expired", "TOKEN_EXPIRED");
			if (err instanceof joseErrors.JWTClaimValidationFailed) throw unauthorized(`Token rejected: ${err.message}`);
			throw unauthorized("Token signature is not valid");
		}
		if (typeof payload.sub !== "string" || !USER_ID.test(payload.sub)) {
			throw unauthorized("Token has no valid subject");
		}
		checkClerkClaims(payload, parties);
		return { sub: payload.sub, expiresAt: (payload.exp as number) * 1000, claims: payload };
	};
}

/**
 * Clerk's own rules, as its SDK applies them: a `pending` session (`sts`, v2 tokens) counts as
 * signed out; `azp`, when present, must be an allowed origin.
 */
function checkClerkClaims(payload: JWTPayload, parties: string[]): void {
	if (payload.sts !== undefined && payload.sts !== "active") throw unauthorized("Session is not active (pending sessions are signed out)");
	const azp = payload.azp;
	if (parties.length > 0 && azp !== undefined && (typeof azp !== "string" || !parties.includes(azp))) {
		throw unauthorized("Token was issued for another origin");
	}
}

/** A local HS256 token with the claims `sub`, `iat`, `exp` (what `npm run token` prints). */
export function mintDevToken(secret: string, sub: string, ttlSeconds = 3600): Promise<string> {
	return new SignJWT({})
		.setProtectedHeader({ alg: "HS256", typ: "JWT" })
		.setSubject(sub)
		.setIssuedAt()
		.setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
		.sign(new TextEncoder().encode(secret));
}

/** The bearer token of an `Authorization` header, if any. */
export function bearerToken(header: string | undefined | null): string | undefined {
	if (!header) return undefined;
	const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
	return match?.[1];
}
