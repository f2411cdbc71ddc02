/** A token bucket kept in a plain object (a socket's state holds several). */
export type Bucket = { tokens: number; at: number };

export const fullBucket = (burst: number, now: number): Bucket => ({ tokens: burst, at: now });

/**
 * Refills the bucket at `ratePerS` up to `burst`, then takes `cost` if it holds that much.
 * False (and nothing taken) when it does not.
 */
export function take(bucket: Bucket, cost: number, now: number, ratePerS: number, burst: number): boolean {
	bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * ratePerS);
	bucket.at = now;
	if (bucket.tokens < cost) return false;
	bucket.tokens -= cost;
	return true;
}
