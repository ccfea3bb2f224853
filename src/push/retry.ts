/**
 * When to try a push again. RFC 8030 8.4: a push service that is overloaded answers 429 (or 503)
 * with Retry-After, which RFC 9110 10.2.3 allows as delay-seconds or an HTTP date.
 */

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const HTTP_DATE = new RegExp([
  `^${DAY}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT$`, // IMF-fixdate
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \\d{2}-${MONTH}-\\d{2} \\d{2}:\\d{2}:\\d{2} GMT$`, // RFC 850
  `^${DAY} ${MONTH} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\d{4}$`, // asctime
].join('|'));

/** Milliseconds to wait, or undefined when the header is absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only an HTTP-date (RFC 9110 5.6.7, its three forms); anything else is no Retry-After (red-team,
  // Web Push round: V8's lenient Date.parse read "3.7" as March 2001, and the sender retried at once).
  if (!HTTP_DATE.test(text)) return undefined;
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
