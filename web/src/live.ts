import type { TokenProvider } from "@venta/client";

/** Where a pasted session token is kept for this tab (development sign-in, when the page has no Clerk). */
const PASTED_TOKEN_KEY = "venta.sessionToken";

type ClerkOnPage = { session?: { getToken(): Promise<string | null> } | null };
const clerk = () => (globalThis as { Clerk?: ClerkOnPage }).Clerk;

/** Clerk is on the page: it signs the customer in and refreshes its short-lived tokens itself. */
export const hasClerk = () => clerk() !== undefined;

/**
 * The page's session token: Clerk's when Clerk is on the page, else one pasted into the page for
 * this tab (a dev token from `npm run token`), else none — the page then watches anonymously.
 */
export const sessionToken: TokenProvider = async () => {
	const onPage = clerk();
	if (onPage) return (await onPage.session?.getToken()) ?? null;
	return sessionStorage.getItem(PASTED_TOKEN_KEY);
};

/** Signs this tab in with a pasted token (empty: signs out); the page reloads to use it. */
export function usePastedToken(token: string): void {
	if (token) sessionStorage.setItem(PASTED_TOKEN_KEY, token);
	else sessionStorage.removeItem(PASTED_TOKEN_KEY);
	location.reload();
}
