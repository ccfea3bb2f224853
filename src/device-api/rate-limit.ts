import type { RateCounter } from '../defences/throttle-store.js';
import { DeviceError } from '../devices/errors.js';

/**
 * A fixed-window counter in Redis, shared by every IdP instance. Used to bound how often one
 * device may answer (docs/device-api.md section 4, `rate_limited`). It is counted by the same
 * script that reserves the answer's TOTP check (defences/throttle-store.ts, devices/otp-proof.ts):
 * one round trip for both.
 */
export interface RateLimit {
  max: number;
  windowMs: number;
}

export const DEFAULT_RESPONSE_RATE_LIMIT: RateLimit = { max: 30, windowMs: 60_000 };

/** Pure: the counter of `key`'s window at `now` (the window is in its name: each window counts afresh). */
export function rateCounter(key: string, limit: RateLimit, now: number): RateCounter {
  return { key: `rl:${key}:${Math.floor(now / limit.windowMs)}`, windowMs: limit.windowMs, max: limit.max };
}

/** The refusal once a window's count is past its maximum: `rate_limited` (429), Retry-After until the window ends. */
export function rateLimited(limit: RateLimit, now: number): DeviceError {
  // The window is the clock's (window * windowMs onwards): its end, not the key's expiry, is when answers are taken again.
  const window = Math.floor(now / limit.windowMs);
  const retryAfter = Math.max(1, Math.ceil(((window + 1) * limit.windowMs - now) / 1000));
  return new DeviceError('rate_limited', 429, 'too many answers; try again later', { 'Retry-After': String(retryAfter) });
}
