import type { TokenProvider } from "@venta/client";

/** The Clerk browser SDK's session token when Clerk is on the page (it refreshes its short-lived tokens itself), else none: the page watches anonymously. */
export const clerkSessionToken: TokenProvider = async () => {
	const clerk = (globalThis as { Clerk?: { session?: { getToken(): Promise<string | null> } | null } }).Clerk;
	return (await clerk?.session?.getToken()) ?? null;
};
