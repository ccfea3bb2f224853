import type { IncomingHttpHeaders } from 'node:http';
import { securityHeaderList } from './edge.js';

/** The waiting page's poll (views/scripts/push-wait.ts) and nothing else: the uid's form is the interaction router's. */
const STATUS_POLL = /^\/interaction\/([A-Za-z0-9_-]{10,64})\/push\/status$/;

/**
 * Pure: the uid of a request the raw long-poll route (./long-poll.ts) may hold, or null when Koa
 * answers it. Only what the page's script sends: a GET of exactly that path, no query string
 * (`?wait=0` and the rest are Koa's), no body and no Authorization (the hostile-input edge checks
 * those, src/http/hostile.ts), with a cookie (without one there is no interaction to wait on).
 */
export function statusPollUid(method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders): string | null {
  if (method !== 'GET' || !url) return null;
  const m = STATUS_POLL.exec(url);
  if (!m) return null;
  if (!headers.cookie || headers.authorization !== undefined) return null;
  if (headers['transfer-encoding'] !== undefined) return null;
  const length = headers['content-length'];
  if (length !== undefined && length !== '0') return null;
  return m[1]!;
}

/**
 * Pure: the headers a held poll's answer carries besides its request id and length, the same as
 * Koa's answer had: the security headers (edge.ts securityHeaders), `Vary: Accept-Language` (the
 * locale middleware, src/i18n/), `Cache-Control: no-store` (the interaction router) and the JSON type.
 */
export function heldPollHeaders(hsts: boolean): ReadonlyArray<readonly [string, string]> {
  return [
    ...securityHeaderList({ hsts }),
    ['Vary', 'Accept-Language'],
    ['Cache-Control', 'no-store'],
    ['Content-Type', 'application/json; charset=utf-8'],
  ];
}
