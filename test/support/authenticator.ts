import { CompactSign, type JWK } from 'jose';
import { randomToken } from '../../src/crypto/hash.js';
import { TOTP_DRIFT_STEPS, TOTP_PERIOD_SECONDS, totpAt, totpStep } from '../../src/otp/totp.js';
import type { ResponseClaims } from '../../src/approval/types.js';
import type { Decision } from '../../src/challenge/types.js';
import type { PushSubscriptionJson } from '../../src/push/types.js';

/**
 * A simulated authenticator: plays the phone in tests by speaking the device API
 * (docs/device-api.md) over HTTP, with a non-extractable WebCrypto P-256 key as the PWA has.
 * Nothing here reaches into the server; what it sends is exactly what a real app would send.
 */

/** Section 1, response 201. */
export interface EnrollResponse {
  deviceId: string;
  issuer: string;
  account: { id: string; username: string; displayName: string };
  totp: { secret: string; algorithm: string; digits: number; period: number };
  policy: { numberMatching: boolean; unlock: string; pollIntervalSeconds: number };
  vapidPublicKey: string;
}

/** Section 3: one challenge as the device sees it (the server's own type). */
export type { DeviceChallengeView } from '../../src/device-api/contract.js';
import type { DeviceChallengeView, RegistrationOptionsResponse } from '../../src/device-api/contract.js';

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A non-2xx answer where the helper expected success; carries what the server said. */
export class AuthenticatorHttpError extends Error {
  override readonly name = 'AuthenticatorHttpError';
  constructor(readonly status: number, readonly body: unknown, what: string) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
  }
}

export interface AuthenticatorOptions {
  /** Where requests go, e.g. http://127.0.0.1:<port>; may differ from the issuer in the tokens. */
  baseUrl: string;
  /** The IdP's issuer; `aud` of device-auth tokens is `${issuer}/api/device`. */
  issuer: string;
  deviceId: string;
  totpSecret: string;
  totpDigits?: 6 | 8;
  policy?: EnrollResponse['policy'];
  enrollment?: EnrollResponse;
  /** A P-256 key pair; a fresh non-extractable one is made when absent. */
  keyPair?: CryptoKeyPair;
  fetch?: typeof fetch;
  /** The phone's clock in epoch ms (tests skew it); Date.now by default. */
  now?: () => number;
}

/** A 6-digit code that is none of the three steps (T-1, T, T+1) a server accepts at `now`: a wrong guess. */
export function wrongTotp(secret: string, now: number): string {
  const valid = new Set([-1, 0, 1].map((d) => totpAt(secret, now + d * TOTP_PERIOD_SECONDS * 1000)));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export class SimulatedAuthenticator {
  readonly baseUrl: string;
  readonly issuer: string;
  readonly deviceId: string;
  readonly totpSecret: string;
  readonly totpDigits: 6 | 8;
  readonly policy: EnrollResponse['policy'] | undefined;
  readonly enrollment: EnrollResponse | undefined;
  /** Non-extractable, as on a phone (tests may assert it). */
  readonly privateKey: CryptoKey;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  /** The last TOTP step the server accepted from us (see nextOtp). */
  private lastSentStep = -1;
  /** The public key as enrolled (kty, crv, x, y). */
  readonly publicJwk: JWK;

  private constructor(options: AuthenticatorOptions, keyPair: CryptoKeyPair, publicJwk: JWK) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.issuer = options.issuer.replace(/\/+$/, '');
    this.deviceId = options.deviceId;
    this.totpSecret = options.totpSecret;
    this.totpDigits = options.totpDigits ?? 6;
    this.policy = options.policy;
    this.enrollment = options.enrollment;
    this.privateKey = keyPair.privateKey;
    this.publicJwk = publicJwk;
    // Called unbound: a browser's fetch throws "Illegal invocation" when `this` is another object.
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.fetchFn = (input, init) => fetchImpl(input, init);
    this.now = options.now ?? Date.now;
  }

  /** A device key as the PWA makes it: ECDSA P-256, private key non-extractable. */
  static async newKey(): Promise<{ keyPair: CryptoKeyPair; publicJwk: JWK }> {
    const keyPair = await globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const { kty, crv, x, y } = await globalThis.crypto.subtle.exportKey('jwk', keyPair.publicKey);
    return { keyPair, publicJwk: { kty, crv, x, y } as JWK };
  }

  /** An authenticator for an already known device (unit tests, or a device enrolled another way). */
  static async create(options: AuthenticatorOptions): Promise<SimulatedAuthenticator> {
    if (options.keyPair) {
      const { kty, crv, x, y } = await globalThis.crypto.subtle.exportKey('jwk', options.keyPair.publicKey);
      return new SimulatedAuthenticator(options, options.keyPair, { kty, crv, x, y } as JWK);
    }
    const { keyPair, publicJwk } = await SimulatedAuthenticator.newKey();
    return new SimulatedAuthenticator(options, keyPair, publicJwk);
  }

  /** Section 1: enrolls with a one-time code. Throws AuthenticatorHttpError unless 201. */
  static async enroll(
    baseUrl: string,
    code: string,
    opts: {
      name?: string; push?: PushSubscriptionJson | null; fetch?: typeof fetch; now?: () => number;
      /** Under the WebAuthn unlock policy: the platform authenticator that runs the registration ceremony (section 1a). */
      webauthn?: { create(options: RegistrationOptionsResponse['publicKey']): unknown };
      /** Make the signed request an app makes at once after 201 (docs/device-api.md section 1b): the device is then confirmed. */
      confirm?: boolean;
    } = {},
  ): Promise<SimulatedAuthenticator> {
    const fetchFn = opts.fetch ?? globalThis.fetch;
    const { keyPair, publicJwk } = await SimulatedAuthenticator.newKey();
    const base = baseUrl.replace(/\/+$/, '');
    let webauthn: unknown;
    if (opts.webauthn) {
      const res = await fetchFn(`${base}/api/device/enroll/webauthn-options`, {
        method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ code }),
      });
      const body = await readBody(res);
      if (res.status !== 200) throw new AuthenticatorHttpError(res.status, body, 'webauthn-options');
      webauthn = opts.webauthn.create((body as RegistrationOptionsResponse).publicKey);
    }
    const res = await fetchFn(`${base}/api/device/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ code, name: opts.name ?? 'Simulated phone', publicJwk, push: opts.push ?? null, ...(webauthn ? { webauthn } : {}) }),
    });
    const body = await readBody(res);
    if (res.status !== 201) throw new AuthenticatorHttpError(res.status, body, 'enroll');
    const enrollment = body as EnrollResponse;
    const digits = enrollment.totp.digits === 8 ? 8 : 6;
    const phone = new SimulatedAuthenticator(
      {
        baseUrl, issuer: enrollment.issuer, deviceId: enrollment.deviceId, totpSecret: enrollment.totp.secret,
        totpDigits: digits, policy: enrollment.policy, enrollment, fetch: fetchFn, ...(opts.now ? { now: opts.now } : {}),
      },
      keyPair,
      publicJwk,
    );
    if (opts.confirm) {
      const confirmed = await phone.request('GET', '/api/device/challenges');
      if (confirmed.status !== 200) throw new AuthenticatorHttpError(confirmed.status, confirmed.body, 'confirm');
    }
    return phone;
  }

  private async sign(claims: object, typ: string): Promise<string> {
    return this.signJws(claims, { typ });
  }

  /** Any ES256 JWS with the device key; `typ`/`kid` overridable, `typ: undefined` leaves it out. */
  async signJws(claims: object, header: { typ?: string | undefined; kid?: string } = {}): Promise<string> {
    const { typ, kid = this.deviceId } = header;
    return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'ES256', kid, ...(typ === undefined ? {} : { typ }) })
      .sign(this.privateKey);
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Section 2: the `Authorization` header value for one request (`path` without query). */
  async authHeader(method: string, path: string, overrides: Record<string, unknown> = {}): Promise<string> {
    const iat = this.nowSeconds();
    const claims = {
      iss: this.deviceId, aud: `${this.issuer}/api/device`, htm: method.toUpperCase(), htu: path,
      iat, exp: iat + 60, jti: randomToken(16), ...overrides,
    };
    return `Device ${await this.sign(claims, 'device-auth+jwt')}`;
  }

  /** Any device-authenticated request; returns whatever the server answered. */
  async request<T = unknown>(method: string, path: string, body?: unknown, claims: Record<string, unknown> = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { authorization: await this.authHeader(method, path, claims), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetchFn(`${this.baseUrl}${path}`, {
      method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await readBody(res)) as T, headers: res.headers };
  }

  /** Section 3: pending challenges. Throws unless 200. */
  async pending(): Promise<DeviceChallengeView[]> {
    const res = await this.request<{ challenges: DeviceChallengeView[] }>('GET', '/api/device/challenges');
    if (res.status !== 200) throw new AuthenticatorHttpError(res.status, res.body, 'pending');
    return res.body.challenges;
  }

  /** Section 3: one challenge. Throws unless 200. */
  async challenge(id: string): Promise<DeviceChallengeView> {
    const res = await this.request<DeviceChallengeView>('GET', `/api/device/challenges/${encodeURIComponent(id)}`);
    if (res.status !== 200) throw new AuthenticatorHttpError(res.status, res.body, 'challenge');
    return res.body;
  }

  /** The TOTP the app shows now (by its own clock). */
  currentTotp(): string {
    return totpAt(this.totpSecret, this.now(), this.totpDigits);
  }

  /**
   * The passcode for the next answer. RFC 6238 5.2 lets the server take each step once, so a second
   * answer within the same 30 s uses the next step (the server allows one step ahead), as the PWA
   * should; a third one in that window reuses a step and is refused with `otp_replayed`.
   */
  private nextOtp(): { otp: string; step: number } {
    const now = totpStep(this.now());
    const step = this.lastSentStep >= now && this.lastSentStep < now + TOTP_DRIFT_STEPS ? this.lastSentStep + 1 : now;
    return { otp: totpAt(this.totpSecret, step * TOTP_PERIOD_SECONDS * 1000, this.totpDigits), step };
  }

  /** Section 4: signs arbitrary claims as an answer, raw JWS (replay and tamper tests). */
  async signResponse(claims: ResponseClaims | Record<string, unknown>): Promise<string> {
    return this.sign(claims, 'pushotp-response+jwt');
  }

  /** Section 4: posts a raw answer JWS. */
  async sendResponse(id: string, jws: string, extra: Record<string, unknown> = {}): Promise<HttpResult> {
    const res = await this.fetchFn(`${this.baseUrl}/api/device/challenges/${encodeURIComponent(id)}/response`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ response: jws, ...extra }),
    });
    return { status: res.status, body: await readBody(res), headers: res.headers };
  }

  /**
   * Section 4: answers a challenge as the app does: fetches it for the nonce (unless given),
   * generates the TOTP at this moment (see nextOtp), signs, posts.
   */
  async respond(
    id: string,
    decision: Decision,
    opts: { number?: number; otp?: string; iat?: number; nonce?: string; extra?: Record<string, unknown> } = {},
  ): Promise<HttpResult> {
    const nonce = opts.nonce ?? (await this.challenge(id)).nonce;
    const next = this.nextOtp();
    const claims: ResponseClaims = {
      cid: id, nonce, decision, otp: opts.otp ?? next.otp, iat: opts.iat ?? this.nowSeconds(),
      ...(opts.number === undefined ? {} : { number: opts.number }),
    };
    const result = await this.sendResponse(id, await this.signResponse(claims), opts.extra);
    if (result.status === 200 && opts.otp === undefined) this.lastSentStep = next.step;
    return result;
  }

  /** Section 5: a new push subscription, or null for poll mode. */
  async updatePush(push: PushSubscriptionJson | null): Promise<HttpResult> {
    return this.request('PUT', '/api/device/push-subscription', { push });
  }

  /**
   * Section 6: revokes this device, proving a fresh TOTP (the `otp` claim) as the app does;
   * `otp: null` leaves the claim out, a string sends that code instead.
   */
  async unregister(opts: { otp?: string | null } = {}): Promise<HttpResult> {
    const next = this.nextOtp();
    const otp = opts.otp === undefined ? next.otp : opts.otp;
    const result = await this.request('DELETE', '/api/device', undefined, otp === null ? {} : { otp });
    if (result.status === 200 && opts.otp === undefined) this.lastSentStep = next.step;
    return result;
  }
}
