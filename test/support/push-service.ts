import 'reflect-metadata'; // @peculiar/x509 (via tsyringe) needs the Reflect metadata polyfill
/**
 * A local push service (RFC 8030) for tests and benchmarks: HTTPS on 127.0.0.1 with a certificate
 * made at run time, subscriptions whose private keys it keeps, VAPID checks (RFC 8292) and
 * aes128gcm decryption (RFC 8291) of every message, and knobs to make it misbehave.
 */
import { createECDH, randomBytes, type ECDH } from 'node:crypto';
import http2 from 'node:http2';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import ece from 'http_ece';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPushEndpointGuard } from '../../src/push/endpoint-guard.js';
import { parsePushServices } from '../../src/push/endpoint-policy.js';
import { createPushTransport, type PushTransport, type PushTransportOptions } from '../../src/push/transport.js';
import type { PushPayload, PushSubscriptionJson } from '../../src/push/types.js';

export interface ReceivedMessage {
  subscriptionId: string;
  headers: IncomingHttpHeaders;
  payload: PushPayload;
  vapidSub: string;
  /** The `k` of the Authorization header: the application server's public key. */
  vapidKey: string;
  bodyBytes: number;
}

/** What the double did with a request; `reason` says why it refused one. */
export interface RequestRecord {
  subscriptionId: string;
  status: number | 'hang';
  reason?: string;
}

/** A canned answer instead of the normal behaviour, used `times` times (default 1). */
export type ForcedResponse =
  | { status: number; headers?: Record<string, string>; times?: number }
  | { hang: true; times?: number };

export interface MintedSubscription extends PushSubscriptionJson {
  id: string;
}

interface Subscription {
  ecdh: ECDH;
  auth: string;
  applicationServerKey: string | undefined;
  forced: ForcedResponse[];
  gone: boolean;
}

export interface PushServiceOptions {
  /**
   * true: HTTP/1.1 only (ALPN offers http/1.1), as a service without HTTP/2 would. By default the
   * double speaks HTTP/2 with an HTTP/1.1 fallback, as FCM, Mozilla autopush and Apple's do.
   */
  http1Only?: boolean;
  /** false: answer 201 to known subscriptions without VAPID checks or decryption (benchmarks). */
  decrypt?: boolean;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS the double announces (FCM's is 100). */
  maxConcurrentStreams?: number;
  /** How long an idle HTTP/1.1 keep-alive connection stays open (benchmarks set it long). */
  keepAliveMs?: number;
  /** Clock for VAPID `exp` checks, milliseconds. */
  now?: () => number;
}

const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;
const MAX_BODY = 4096; // RFC 8030 7.2


function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A self-signed P-256 certificate for 127.0.0.1, kept in memory only. */
async function makeCertificate(): Promise<{ cert: string; key: string }> {
  const x509 = await import('@peculiar/x509');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: `01${randomBytes(8).toString('hex')}`,
      name: 'CN=push-service-double',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 24 * 3600_000),
      signingAlgorithm: alg,
      keys,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

class Refusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** RFC 8292 3: `vapid t=<jwt>, k=<key>`; checks the JWT against k and the rules of section 2. */
async function verifyVapid(header: string | undefined, origin: string, nowMs: number): Promise<{ sub: string; k: string }> {
  const match = /^vapid\s+(.*)$/i.exec(header ?? '');
  if (!match?.[1]) throw new Refusal(401, 'no vapid Authorization');
  const params = new Map(
    match[1].split(',').map((part) => {
      const eq = part.indexOf('=');
      return [part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim()] as const;
    }),
  );
  const t = params.get('t');
  const k = params.get('k');
  const raw = k ? Buffer.from(k, 'base64url') : Buffer.alloc(0);
  if (!t || !k || raw.length !== 65 || raw[0] !== 4) throw new Refusal(401, 'vapid t or k missing or malformed');
  if (decodeProtectedHeader(t).alg !== 'ES256') throw new Refusal(401, 'vapid JWT is not ES256');
  const key = await importJWK(
    { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
    'ES256',
  );
  let payload;
  try {
    ({ payload } = await jwtVerify(t, key, {
      algorithms: ['ES256'],
      audience: origin,
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    throw new Refusal(403, `vapid JWT refused: ${(err as Error).message}`);
  }
  if ((payload.exp ?? 0) * 1000 - nowMs > 24 * 3600_000) throw new Refusal(403, 'vapid exp more than 24 h ahead');
  const sub = String(payload.sub);
  if (!/^(mailto|https):/.test(sub)) throw new Refusal(403, 'vapid sub is not mailto: or https:');
  return { sub, k };
}

/** RFC 8030 5.2-5.4 and RFC 8291 4: what a message's headers must say. */
function checkHeaders(headers: IncomingHttpHeaders, bodyBytes: number): void {
  if (bodyBytes > MAX_BODY) throw new Refusal(413, `body of ${bodyBytes} bytes`);
  if (!/^\d+$/.test(String(headers.ttl ?? ''))) throw new Refusal(400, 'TTL missing or not a number');
  if (headers.urgency !== undefined && !URGENCIES.has(String(headers.urgency))) throw new Refusal(400, 'bad Urgency');
  if (headers.topic !== undefined && !TOPIC.test(String(headers.topic))) throw new Refusal(400, 'bad Topic');
  if (headers['content-encoding'] !== 'aes128gcm') throw new Refusal(400, 'Content-Encoding is not aes128gcm');
}

/** The request and response of either protocol, as the http2 compatibility API gives them. */
type Req = http2.Http2ServerRequest | import('node:http').IncomingMessage;
type Res = http2.Http2ServerResponse | import('node:http').ServerResponse;
type Server = https.Server | http2.Http2SecureServer;

function readBody(req: Req): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class PushServiceDouble {
  readonly messages: ReceivedMessage[] = [];
  /** Notices (payload type 'notice', e.g. "a new authenticator was added"): kept apart from sign-in requests. */
  readonly notices: ReceivedMessage[] = [];
  readonly requests: RequestRecord[] = [];
  /** TLS handshakes completed: fewer than requests means connections were reused. */
  tlsConnections = 0;
  /** Requests by protocol: '2.0' (HTTP/2) or '1.1'. */
  readonly httpVersions: Record<string, number> = {};
  /** HTTP/2 only: the peak number of streams open at once. */
  peakStreams = 0;
  readonly #sockets = new Set<Socket>();
  #openStreams = 0;
  /** Messages accepted (also counted when `decrypt` is false and nothing is recorded). */
  accepted = 0;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #unread = new Map<string, ReceivedMessage[]>();
  readonly #waiters = new Map<string, Array<(m: ReceivedMessage) => void>>();
  readonly #decrypt: boolean;
  readonly #now: () => number;

  private constructor(
    readonly server: Server,
    readonly origin: string,
    /** PEM; trust it with `createTransport()`, or `new https.Agent({ ca, keepAlive: true })` for an HTTP/1.1 client. */
    readonly ca: string,
    options: PushServiceOptions,
  ) {
    this.#decrypt = options.decrypt ?? true;
    this.#now = options.now ?? Date.now;
    server.on('secureConnection', (socket: Socket) => {
      this.tlsConnections += 1;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req: Req, res: Res) => {
      this.httpVersions[req.httpVersion] = (this.httpVersions[req.httpVersion] ?? 0) + 1;
      if (req.httpVersion === '2.0') {
        this.#openStreams += 1;
        this.peakStreams = Math.max(this.peakStreams, this.#openStreams);
        req.once('close', () => (this.#openStreams -= 1));
      }
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  }

  static async start(options: PushServiceOptions = {}): Promise<PushServiceDouble> {
    const { cert, key } = await makeCertificate();
    const server: Server = options.http1Only
      ? https.createServer({ cert, key })
      : http2.createSecureServer({
        cert, key, allowHTTP1: true,
        ...(options.maxConcurrentStreams ? { settings: { maxConcurrentStreams: options.maxConcurrentStreams } } : {}),
      });
    // The HTTP/1.1 fallback of an HTTP/2 server reads the same property as an https.Server.
    if (options.keepAliveMs !== undefined) Object.assign(server, { keepAliveTimeout: options.keepAliveMs });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return new PushServiceDouble(server, `https://127.0.0.1:${address.port}`, cert, options);
  }

  /** host:port of the service, as PUSH_SERVICES lists it. */
  get host(): string {
    return new URL(this.origin).host;
  }

  #caDir: string | undefined;

  /**
   * The settings an operator would give the IdP for this service: PUSH_CA (its certificate, written
   * to a file removed by close()) and PUSH_SERVICES (its host and port; 127.0.0.1 is no browser
   * vendor's push service, so without this the IdP refuses it).
   */
  env(): { PUSH_CA: string; PUSH_SERVICES: string } {
    if (!this.#caDir) {
      this.#caDir = mkdtempSync(path.join(os.tmpdir(), 'push-ca-'));
      writeFileSync(path.join(this.#caDir, 'ca.pem'), this.ca);
    }
    return { PUSH_CA: path.join(this.#caDir, 'ca.pem'), PUSH_SERVICES: this.host };
  }

  /** A push transport that trusts this service and allows its address; the caller closes it. */
  createTransport(options: Omit<PushTransportOptions, 'ca'> = {}): PushTransport {
    return createPushTransport({ ca: this.ca, guard: createPushEndpointGuard({ services: parsePushServices(this.host) }), ...options });
  }

  /** Ends every connection now (HTTP/2 sessions included), as a push service restarting would. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /**
   * A subscription as a browser would hand it over. With `applicationServerKey`, messages signed
   * by another VAPID key are refused with 403, as RFC 8292 4.2 lets push services do.
   */
  createSubscription(options: { applicationServerKey?: string } = {}): MintedSubscription {
    const id = randomBytes(12).toString('base64url');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16).toString('base64url');
    this.#subscriptions.set(id, { ecdh, auth, applicationServerKey: options.applicationServerKey, forced: [], gone: false });
    return { id, endpoint: `${this.origin}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth } };
  }

  /** Later messages to it get 410 Gone, as FCM and Mozilla answer (RFC 8030 7.3 names 404). */
  unsubscribe(subscriptionId: string): void {
    const sub = this.#subscriptions.get(subscriptionId);
    if (sub) sub.gone = true;
  }

  /** Queues canned answers for the next requests to one subscription, in order. */
  force(subscriptionId: string, ...responses: ForcedResponse[]): void {
    this.#subscription(subscriptionId).forced.push(...responses.map((r) => ({ ...r })));
  }

  /** The next message for a subscription not yet returned by this method. */
  waitForMessage(subscriptionId: string, timeoutMs = 5000): Promise<ReceivedMessage> {
    const queued = this.#unread.get(subscriptionId)?.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiters = this.#waiters.get(subscriptionId) ?? [];
      this.#waiters.set(subscriptionId, waiters);
      const deliver = (message: ReceivedMessage): void => {
        clearTimeout(timer);
        resolve(message);
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(deliver), 1);
        reject(new Error(`no push for ${subscriptionId} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(deliver);
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Hanging requests, idle keep-alive sockets and HTTP/2 sessions would otherwise hold close() open.
    this.dropConnections();
    await closed;
    if (this.#caDir) rmSync(this.#caDir, { recursive: true, force: true });
  }

  #subscription(id: string): Subscription {
    const sub = this.#subscriptions.get(id);
    if (!sub) throw new Error(`unknown subscription ${id}`);
    return sub;
  }

  #answer(res: Res, record: RequestRecord, status: number, headers: Record<string, string> = {}): void {
    record.status = status;
    res.writeHead(status, headers).end();
  }

  async #handle(req: Req, res: Res): Promise<void> {
    const id = /^\/push\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1] ?? '';
    const body = await readBody(req);
    const record: RequestRecord = { subscriptionId: id, status: 0 };
    this.requests.push(record);
    const sub = this.#subscriptions.get(id);
    if (req.method !== 'POST' || !sub) return this.#answer(res, record, 404);
    if (sub.gone) return this.#answer(res, record, 410);

    const forced = sub.forced[0];
    if (forced) {
      forced.times = (forced.times ?? 1) - 1;
      if (forced.times <= 0) sub.forced.shift();
      if ('hang' in forced) {
        record.status = 'hang';
        return; // never answered; close() ends the socket
      }
      return this.#answer(res, record, forced.status, forced.headers);
    }

    if (!this.#decrypt) {
      this.accepted += 1;
      return this.#answer(res, record, 201);
    }
    try {
      checkHeaders(req.headers, body.length);
      const vapid = await verifyVapid(req.headers.authorization, this.origin, this.#now());
      if (sub.applicationServerKey !== undefined && vapid.k !== sub.applicationServerKey) {
        throw new Refusal(403, 'VAPID key differs from the subscription’s applicationServerKey');
      }
      let payload: PushPayload;
      try {
        const plaintext = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth });
        payload = JSON.parse(plaintext.toString('utf8')) as PushPayload;
      } catch (err) {
        throw new Refusal(400, `cannot decrypt to JSON: ${(err as Error).message}`);
      }
      const message: ReceivedMessage = {
        subscriptionId: id,
        headers: req.headers,
        payload,
        vapidSub: vapid.sub,
        vapidKey: vapid.k,
        bodyBytes: body.length,
      };
      this.#deliver(message);
      this.#answer(res, record, 201, { Location: `${this.origin}/message/${randomBytes(8).toString('hex')}` });
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      record.reason = err.message;
      this.#answer(res, record, err.status);
    }
  }

  #deliver(message: ReceivedMessage): void {
    this.accepted += 1;
    if ((message.payload as { type?: unknown }).type === 'notice') {
      this.notices.push(message);
      return;
    }
    this.messages.push(message);
    const waiter = this.#waiters.get(message.subscriptionId)?.shift();
    if (waiter) return waiter(message);
    const unread = this.#unread.get(message.subscriptionId) ?? [];
    unread.push(message);
    this.#unread.set(message.subscriptionId, unread);
  }
}

/** Starts a double on a random port of 127.0.0.1. */
export function startPushService(options: PushServiceOptions = {}): Promise<PushServiceDouble> {
  return PushServiceDouble.start(options);
}
