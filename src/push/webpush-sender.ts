import { WebPushEncrypter } from './encrypt.js';
import { MAX_PUSH_PLAINTEXT_BYTES } from './payload.js';
import { backoffMs, parseRetryAfter } from './retry.js';
import { checkSubscription } from './subscription.js';
import { createPushTransport, type PushTransport } from './transport.js';
import type { NoticePayload, Notifier, PushPayload, PushSubscriptionJson, SendOptions, SendResult } from './types.js';
import { VapidSigner, type VapidConfig } from './vapid.js';

/** The subset of pino's logger used here. */
export interface PushLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WebPushNotifierOptions {
  vapid: VapidConfig;
  /** How messages reach push services; by default one per notifier. A passed one is the caller's to close. */
  transport?: PushTransport;
  /** Per attempt, from connecting to the end of the answer. */
  timeoutMs?: number;
  maxAttempts?: number;
  /** A 429/503 Retry-After up to this long is waited out in place; a longer one is handed back. */
  maxRetryAfterMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  logger?: PushLogger;
}

const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);
/** RFC 8030 5.4: a Topic is at most 32 characters of the base64url alphabet. */
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

function checkOptions(options: SendOptions): string | null {
  if (!Number.isFinite(options.ttlSeconds) || options.ttlSeconds < 0) return 'ttlSeconds must be 0 or more';
  if (!URGENCIES.has(options.urgency)) return 'urgency is not an RFC 8030 value';
  if (typeof options.topic !== 'string' || !TOPIC.test(options.topic)) return 'topic must be 1-32 base64url characters';
  return null;
}

/**
 * A checked subscription whose keys sit in one 81-byte buffer of their own. Decoded from base64,
 * each key is a slice of Node's shared 8 KiB Buffer pool, and a kept slice keeps its whole slab
 * alive: a heap snapshot with 1,000 waiting sign-ins showed 648 slabs retained by `p256dh` (5.3 KB
 * per cached subscription, 26 MB of array buffers in a process holding 5,000; issue 15 item 4).
 */
function ownKeys(checked: { url: URL; p256dh: Buffer; auth: Buffer }): { url: URL; p256dh: Buffer; auth: Buffer } {
  const both = Buffer.allocUnsafeSlow(checked.p256dh.length + checked.auth.length);
  checked.p256dh.copy(both, 0);
  checked.auth.copy(both, checked.p256dh.length);
  return { url: checked.url, p256dh: both.subarray(0, checked.p256dh.length), auth: both.subarray(checked.p256dh.length) };
}

/**
 * Sends Web Push messages (RFC 8030) encrypted with aes128gcm (RFC 8291, ./encrypt.ts) and
 * signed with a cached VAPID header (RFC 8292), over HTTP/2 where the push service speaks it
 * (./transport.ts). Push-service trouble never throws: every outcome is a SendResult.
 */
export function createWebPushNotifier(opts: WebPushNotifierOptions): Notifier {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 2000;
  const signer = new VapidSigner(opts.vapid, { now });
  // One long-lived connection per push service spares a TLS handshake per push (most of a push's
  // latency to a far service).
  const transport = opts.transport ?? createPushTransport();
  const ownsTransport = opts.transport === undefined;
  const encrypter = new WebPushEncrypter();
  const log = opts.logger;
  let closed = false;
  // A device's subscription is sent to again and again (every sign-in, every fan-out): its checked
  // form (parsed endpoint, decoded keys) is kept, keyed by everything it was made from.
  const checkedSubscriptions = new Map<string, ReturnType<typeof checkSubscription>>();
  const checkedCached = (subscription: PushSubscriptionJson): ReturnType<typeof checkSubscription> => {
    const { endpoint, keys } = subscription;
    if (typeof endpoint !== 'string' || typeof keys?.p256dh !== 'string' || typeof keys.auth !== 'string') return checkSubscription(subscription);
    const key = `${endpoint} ${keys.p256dh} ${keys.auth}`;
    const hit = checkedSubscriptions.get(key);
    if (hit) return hit;
    const checked = checkSubscription(subscription);
    if ('error' in checked) return checked;
    if (checkedSubscriptions.size >= 10_000) checkedSubscriptions.clear();
    const kept = ownKeys(checked);
    checkedSubscriptions.set(key, kept);
    return kept;
  };

  async function send(subscription: PushSubscriptionJson, payload: PushPayload | NoticePayload, options: SendOptions): Promise<SendResult> {
    const failed = (reason: string, attempts: number, more: { httpStatus?: number; retryAfterSeconds?: number } = {}): SendResult => ({
      status: 'failed',
      reason,
      attempts,
      ...more,
    });
    if (closed) return failed('notifier_closed', 0);
    const checked = checkedCached(subscription);
    if ('error' in checked) return failed(`bad_subscription: ${checked.error}`, 0);
    const badOptions = checkOptions(options);
    if (badOptions) return failed(`bad_options: ${badOptions}`, 0);
    const plaintext = Buffer.from(JSON.stringify(payload), 'utf8');
    if (plaintext.length > MAX_PUSH_PLAINTEXT_BYTES) return failed('payload_too_large', 0);

    let body: Buffer;
    try {
      // One record, fresh ECDH key and salt per message (RFC 8291 3.4 and 4).
      body = encrypter.encrypt(checked, plaintext);
    } catch (err) {
      return failed(`bad_subscription: ${(err as Error).message}`, 0);
    }
    const url = checked.url;
    const origin = url.origin; // log only this: an endpoint is a capability URL (RFC 8030 8.3, 8.5)
    // Lower-case names: HTTP/2 requires them, so the transport sends them as they are.
    const baseHeaders = {
      ttl: String(Math.floor(options.ttlSeconds)),
      urgency: options.urgency,
      topic: options.topic,
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
    };

    for (let attempt = 1; ; attempt += 1) {
      let authorization: string;
      try {
        authorization = await signer.authorization(origin);
      } catch (err) {
        return failed(`vapid_error: ${(err as Error).message}`, attempt - 1);
      }
      const answer = await transport.post(url, { ...baseHeaders, authorization }, body, timeoutMs);
      const canRetry = attempt < maxAttempts && !closed;

      if (answer.kind === 'error') {
        log?.warn({ origin, attempt, reason: answer.reason, error: answer.message }, 'push attempt failed');
        // The endpoint policy gives the same answer next time: no retry, and the subscription stays
        // (a name may resolve inward only for a while; an operator may list the service later).
        if (answer.reason === 'refused') return failed(`refused_endpoint: ${answer.message}`, attempt);
        if (!canRetry) return failed(answer.reason, attempt);
        await sleep(backoffMs(attempt));
        continue;
      }

      const status = answer.status;
      if (status >= 200 && status < 300) return { status: 'sent', httpStatus: status, attempts: attempt };
      // RFC 8030 7.3: 404 for an expired or removed subscription; services also answer 410. Final.
      if (status === 404 || status === 410) return { status: 'gone', httpStatus: status, attempts: attempt };
      log?.warn({ origin, attempt, httpStatus: status }, 'push service refused the message');

      if (status === 429 || status >= 500) {
        const waitMs = parseRetryAfter(answer.retryAfter, now());
        const reason = status === 429 ? 'rate_limited' : 'push_service_error';
        // A 429 without Retry-After gives no safe moment to come back: hand it to the caller.
        if (waitMs === undefined && status === 429) return failed(reason, attempt, { httpStatus: status });
        if (waitMs !== undefined && waitMs > maxRetryAfterMs) {
          return failed(reason, attempt, { httpStatus: status, retryAfterSeconds: Math.ceil(waitMs / 1000) });
        }
        if (!canRetry) return failed(reason, attempt, { httpStatus: status });
        await sleep(Math.max(waitMs ?? 0, status >= 500 ? backoffMs(attempt) : 0));
        continue;
      }
      // 413 (body too large, RFC 8030 7.2), 400/401/403 (bad request or VAPID refused): same answer next time.
      return failed(status === 413 ? 'payload_too_large' : 'rejected', attempt, { httpStatus: status });
    }
  }

  async function close(): Promise<void> {
    closed = true;
    if (ownsTransport) await transport.close();
  }

  return { send, close };
}
