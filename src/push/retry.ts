/**
 * When to try a push again. RFC 8030 8.4: a push service that is overloaded answers 429 (or 503)
 * with Retry-After, which RFC 9110 10.2.3 allows as delay-seconds or an HTTP date.
 */

/** Milliseconds to wait, or undefined when the header is absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Pause after failed attempt `attempt` (1-based): 100 ms, 300 ms, 900 ms... A push is only useful
 * while its challenge lives (about two minutes), so retries stay few and short.
 */
export function backoffMs(attempt: number, baseMs = 100): number {
  return baseMs * 3 ** (attempt - 1);
}
