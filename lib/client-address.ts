/**
 * The address a request comes from: the last entry of the trusted proxy's header (the one that
 * proxy appended; entries before it are whatever the client sent), else the peer address.
 */
export function clientAddress(forwarded: string | undefined, peer: string | undefined): string {
	return forwarded?.split(",").at(-1)?.trim() || peer || "unknown";
}
