import http2 from 'node:http2';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { Pool } from 'undici';
import { createPushEndpointGuard, PushEndpointRefused, type PushEndpointGuard } from './endpoint-guard.js';
import { StreamSlots } from './stream-slots.js';

/** How one POST ended: an HTTP answer, or no answer. */
export type Answer =
  | { kind: 'response'; status: number; retryAfter: string | undefined }
  /** refused: the endpoint policy stopped it before connecting (./endpoint-policy.ts); final. */
  | { kind: 'error'; reason: 'timeout' | 'network_error' | 'refused'; message: string };

export type PushProtocol = 'h2' | 'http/1.1';

/** Carries push messages to push services; one per notifier (or shared, then closed by its owner). */
export interface PushTransport {
  /** Never rejects: every outcome is an Answer. */
  post(url: URL, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<Answer>;
  /** What an origin was last spoken to in, once known. */
  protocolOf(origin: string): PushProtocol | undefined;
  close(): Promise<void>;
}

export interface PushTransportOptions {
  /** The CA certificates (PEM) to trust instead of Node's bundled roots, e.g. a local push service's in tests. */
  ca?: string | string[];
  /**
   * Which endpoints may be reached and how their names resolve (SSRF defence). Default: the
   * browser vendors' push services only, on public addresses.
   */
  guard?: PushEndpointGuard;
  /** HTTP/1.1 fallback: keep-alive connections per origin (default 64). */
  maxSockets?: number;
  /** An HTTP/2 session idle this long is closed. */
  idleMs?: number;
  /** How long an origin that did not offer h2 is spoken to in HTTP/1.1 before asking again. */
  recheckMs?: number;
  now?: () => number;
}

class AttemptTimeout extends Error {}

/** A push service's answer carries no useful body (RFC 8030 5): more than this is cut. */
const MAX_ANSWER_BODY_BYTES = 64 * 1024;

/**
 * undici, loaded with the first origin that speaks HTTP/1.1 only: the browser vendors' services all
 * speak HTTP/2, and loading it costs a process about 20 MiB of resident memory.
 */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

/** An HTTP/1.1 connection to a push service is given up after this long (the attempt's own deadline is usually shorter). */
const CONNECT_TIMEOUT_MS = 10_000;

/** How a failed connection or request is reported: a refused address is the policy's, not the network's. */
const reasonOf = (err: unknown): 'timeout' | 'network_error' | 'refused' =>
  err instanceof AttemptTimeout ? 'timeout' : err instanceof PushEndpointRefused ? 'refused' : 'network_error';

type Allowed = Extract<ReturnType<PushEndpointGuard['check']>, { ok: true }>;

type OriginState =
  | { kind: 'h2'; session: http2.ClientHttp2Session; streams: StreamSlots }
  | { kind: 'connecting'; ready: Promise<PushProtocol> }
  | { kind: 'http/1.1'; until: number };

/**
 * Connects once per push-service origin, offering h2 and http/1.1 in ALPN. FCM, Mozilla autopush
 * and Apple's push service answer h2: every message then is one stream on one long-lived session
 * (no per-request socket bookkeeping, HPACK-compressed headers: about a third less CPU per
 * message than HTTP/1.1 keep-alive). A service that picks http/1.1 gets keep-alive requests.
 */
export function createPushTransport(opts: PushTransportOptions = {}): PushTransport {
  const now = opts.now ?? Date.now;
  const guard = opts.guard ?? createPushEndpointGuard();
  const idleMs = opts.idleMs ?? 60_000;
  const recheckMs = opts.recheckMs ?? 3600_000;
  // Built once: a context per connection would parse the certificates again each time.
  const secureContext = opts.ca === undefined ? undefined : tls.createSecureContext({ ca: opts.ca });
  const maxSockets = opts.maxSockets ?? 64;
  const pools = new Map<string, Pool>();
  const origins = new Map<string, OriginState>();
  let closed = false;

  /** The origin's HTTP/2 session, if one is open. */
  function liveH2(origin: string): Extract<OriginState, { kind: 'h2' }> | undefined {
    const state = origins.get(origin);
    return state?.kind === 'h2' && !state.session.closed && !state.session.destroyed ? state : undefined;
  }

  function forget(origin: string, session: http2.ClientHttp2Session): void {
    const state = origins.get(origin);
    if (state?.kind === 'h2' && state.session === session) origins.delete(origin);
  }

  /** A TLS connection to the push service, offering `alpn`. */
  function tlsTo(url: URL, allowed: Allowed, alpn: string[]): tls.TLSSocket {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return tls.connect({
      host,
      port: Number(url.port || 443),
      ...(isIP(host) ? {} : { servername: host }),
      ALPNProtocols: alpn,
      ...(secureContext ? { secureContext } : {}),
      // Names resolve through the guard, which refuses inward addresses before the connect.
      lookup: guard.lookupFor(allowed),
    });
  }

  /** TLS with ALPN; resolves with the protocol the service chose, rejects on a failed connection. */
  function connect(url: URL, allowed: Allowed, timeoutMs: number): Promise<PushProtocol> {
    const origin = url.origin;
    return new Promise<PushProtocol>((resolve, reject) => {
      const socket = tlsTo(url, allowed, ['h2', 'http/1.1']);
      const timer = setTimeout(() => socket.destroy(new AttemptTimeout(`no TLS connection within ${timeoutMs} ms`)), timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2' || closed) {
          clearTimeout(timer);
          socket.destroy();
          return resolve('http/1.1');
        }
        const session = http2.connect(origin, { createConnection: () => socket });
        const streams = new StreamSlots(session);
        session.on('error', (err) => {
          forget(origin, session);
          clearTimeout(timer);
          reject(err); // no-op once ready
        });
        session.on('goaway', () => forget(origin, session));
        session.on('close', () => {
          forget(origin, session);
          streams.drain();
          clearTimeout(timer);
          reject(new Error('HTTP/2 session closed before its settings arrived')); // no-op once ready
        });
        session.setTimeout(idleMs, () => session.close());
        // Ready once the service's SETTINGS are in (its first frame): their stream limit governs
        // from the first request on.
        session.once('remoteSettings', () => {
          clearTimeout(timer);
          if (session.closed || session.destroyed) return;
          origins.set(origin, { kind: 'h2', session, streams });
          resolve('h2');
        });
      });
    });
  }

  /** For an origin without a live HTTP/2 session: what to speak, connecting first when unknown. */
  async function protocolFor(url: URL, allowed: Allowed, timeoutMs: number): Promise<PushProtocol> {
    const origin = url.origin;
    const state = origins.get(origin);
    if (state?.kind === 'http/1.1' && state.until > now()) return 'http/1.1';
    if (state?.kind === 'connecting') return state.ready;
    const ready = connect(url, allowed, timeoutMs);
    origins.set(origin, { kind: 'connecting', ready });
    try {
      const protocol = await ready;
      if (protocol === 'http/1.1') origins.set(origin, { kind: 'http/1.1', until: now() + recheckMs });
      return protocol;
    } catch (err) {
      if (origins.get(origin)?.kind === 'connecting') origins.delete(origin);
      throw err;
    }
  }

  function postH2(url: URL, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<Answer> {
    const state = liveH2(url.origin);
    if (!state) return Promise.resolve({ kind: 'error', reason: 'network_error', message: 'HTTP/2 session gone' });
    const { session, streams } = state;
    const lower: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': `${url.pathname}${url.search}` };
    for (const name in headers) lower[name.toLowerCase()] = headers[name];
    return new Promise((resolve) => {
      let settled = false;
      let stream: http2.ClientHttp2Stream | undefined;
      let holdsSlot = false;
      // The deadline covers the time spent waiting for a free stream as well.
      const timer = setTimeout(() => {
        leaveQueue();
        stream?.close(http2.constants.NGHTTP2_CANCEL);
        settle({ kind: 'error', reason: 'timeout', message: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      const settle = (answer: Answer): void => {
        if (settled) return;
        settled = true;
        // The deadline stays armed while the stream is open: it cuts a body that never ends.
        if (!stream || stream.closed || stream.destroyed) clearTimeout(timer);
        resolve(answer);
      };
      const start = (): void => {
        holdsSlot = true;
        if (settled) return void release();
        let status = 0;
        let retryAfter: string | undefined;
        try {
          stream = session.request(lower);
        } catch (err) {
          release();
          return settle({ kind: 'error', reason: 'network_error', message: (err as Error).message });
        }
        stream.on('response', (h) => {
          status = Number(h[':status']);
          const ra = h['retry-after'];
          retryAfter = Array.isArray(ra) ? ra[0] : ra;
          // The status is the answer: a body that is slow, endless or reset after it changes nothing.
          settle({ kind: 'response', status, retryAfter });
        });
        let bodyBytes = 0;
        stream.on('data', (chunk: Buffer) => {
          bodyBytes += chunk.length;
          if (bodyBytes > MAX_ANSWER_BODY_BYTES) stream!.close(http2.constants.NGHTTP2_CANCEL);
        });
        stream.on('error', (err) => settle({ kind: 'error', reason: 'network_error', message: err.message }));
        // 'close' also covers a stream the service reset (RST_STREAM) without an error event.
        stream.on('close', () => {
          clearTimeout(timer);
          release();
          settle(status > 0 ? { kind: 'response', status, retryAfter } : { kind: 'error', reason: 'network_error', message: 'stream closed without an answer' });
        });
        stream.end(body);
      };
      const release = (): void => {
        if (!holdsSlot) return;
        holdsSlot = false;
        streams.release();
      };
      const leaveQueue = streams.acquire(start);
    });
  }

  /**
   * The origin's HTTP/1.1 keep-alive pool (undici: about 40 us of CPU less per message than
   * https.request with a keep-alive Agent, measured on the 2-core machine). Its connections are
   * ours: TLS through the guard's name resolution, as the HTTP/2 probe's, so a vendor's name that
   * turns inward later is still refused before connecting.
   */
  async function poolFor(url: URL, allowed: Allowed): Promise<Pool> {
    const found = pools.get(url.origin);
    if (found) return found;
    const { Pool } = await loadUndici();
    const raced = pools.get(url.origin);
    if (raced) return raced;
    if (closed) throw new Error('transport closed');
    const pool = new Pool(url.origin, {
      connections: maxSockets,
      pipelining: 1,
      keepAliveTimeout: idleMs,
      keepAliveMaxTimeout: idleMs,
      // The attempt's own deadline (postH1) bounds the answer and the body.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: (_options, callback) => {
        const socket = tlsTo(url, allowed, ['http/1.1']);
        const timer = setTimeout(() => socket.destroy(new AttemptTimeout(`no TLS connection within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
        // Whichever comes first; the other listener is dropped (undici watches the socket after).
        const connected = () => { clearTimeout(timer); socket.off('error', failed); callback(null, socket); };
        const failed = (err: Error) => { clearTimeout(timer); socket.off('secureConnect', connected); callback(err, null); };
        socket.once('secureConnect', connected);
        socket.once('error', failed);
      },
    });
    pools.set(url.origin, pool);
    return pool;
  }

  function postH1(url: URL, allowed: Allowed, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<Answer> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (answer: Answer): void => {
        if (settled) return;
        settled = true;
        resolve(answer);
      };
      // The deadline covers the wait for a pooled connection, the answer, and the (ignored) body.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new AttemptTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const failedWith = (err: Error): void => {
        clearTimeout(timer);
        // A request cut by the deadline fails with whatever undici makes of the abort: the deadline is the cause.
        const cause = abort.signal.aborted ? (abort.signal.reason as Error) : err;
        settle({ kind: 'error', reason: reasonOf(cause), message: cause.message });
      };
      poolFor(url, allowed).then((pool) => pool.request({ path: `${url.pathname}${url.search}`, method: 'POST', headers, body, signal: abort.signal })).then((res) => {
        const ra = res.headers['retry-after'];
        // The status is the answer; the body is read to its end so the connection can go back to
        // the pool, but only up to a cap and within the deadline.
        settle({ kind: 'response', status: res.statusCode, retryAfter: Array.isArray(ra) ? ra[0] : ra });
        let bodyBytes = 0;
        res.body.on('data', (chunk: Buffer) => {
          bodyBytes += chunk.length;
          if (bodyBytes > MAX_ANSWER_BODY_BYTES) res.body.destroy();
        });
        res.body.on('close', () => clearTimeout(timer));
        res.body.on('error', () => undefined);
      }, failedWith);
    });
  }

  return {
    async post(url, headers, body, timeoutMs) {
      if (closed) return { kind: 'error', reason: 'network_error', message: 'transport closed' };
      // Every send is checked, not only at enrollment: an endpoint stored before this policy (or
      // before PUSH_SERVICES changed) must not be reached either.
      const allowed = guard.check(url);
      if (!allowed.ok) return { kind: 'error', reason: 'refused', message: `push endpoint refused: ${allowed.reason}` };
      // The common case, without a trip through protocolFor: a live HTTP/2 session to this service.
      if (liveH2(url.origin)) return postH2(url, headers, body, timeoutMs);
      let protocol: PushProtocol;
      const began = Date.now();
      try {
        protocol = await protocolFor(url, allowed, timeoutMs);
      } catch (err) {
        return { kind: 'error', reason: reasonOf(err), message: (err as Error).message };
      }
      // One attempt's bound covers the connection too (red-team: a slow handshake, then a fresh
      // timeoutMs for the answer, made an attempt last up to twice its bound).
      const left = Math.max(1, timeoutMs - (Date.now() - began));
      return protocol === 'h2' ? postH2(url, headers, body, left) : postH1(url, allowed, headers, body, left);
    },
    protocolOf(origin) {
      const state = origins.get(origin);
      return state?.kind === 'h2' || state?.kind === 'http/1.1' ? state.kind : undefined;
    },
    async close() {
      closed = true;
      const sessions = [...origins.values()].flatMap((s) => (s.kind === 'h2' ? [s.session] : []));
      origins.clear();
      await Promise.all(
        sessions.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.closed || s.destroyed) return resolve();
              s.close(() => resolve());
              // A stream the service never answers would hold close() open: cut it after a moment.
              setTimeout(() => s.destroy(), 1000).unref();
            }),
        ),
      );
      const h1 = [...pools.values()];
      pools.clear();
      await Promise.all(h1.map((p) => p.destroy().catch(() => undefined)));
    },
  };
}
