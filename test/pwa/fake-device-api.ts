import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import type Koa from 'koa';
import { generateSecret, generateSync } from 'otplib';

/**
 * A stand-in for the IdP's device API, written from docs/device-api.md alone, so the PWA can be
 * driven end to end before the real server exists. It checks what the real one must check
 * (ES256 signatures, typ, aud/htm/htu, jti reuse, nonce, TOTP window and replay, number
 * matching) and records every request, so tests can assert what the phone sent.
 */

export type Unlock = 'none' | 'pin' | 'webauthn';

export interface FakeDevice {
  id: string;
  accountId: string;
  name: string;
  publicJwk: JWK;
  push: unknown;
  revoked: boolean;
  lastStep: number;
  secret: string;
  webauthn: { credentialId: string; publicKeySpki: string; alg: number } | null;
}

export interface FakeChallenge {
  id: string;
  accountId: string;
  nonce: string;
  app: string;
  ip: string;
  location: string | null;
  browser: string;
  createdAt: number;
  expiresAt: number;
  status: 'pending' | 'approved' | 'denied' | 'expired';
  matchNumber: number | null;
  numberChoices: number[] | null;
  reason: string | null;
}

export interface RecordedAnswer {
  cid: string;
  claims: Record<string, unknown>;
  webauthn: Record<string, string> | undefined;
  step: number;
  outcome: string;
}

export interface FakeDeviceApi {
  /** Set by the test once the server listens: the issuer is its origin. */
  issuer: string;
  policy: { numberMatching: boolean; unlock: Unlock; pollIntervalSeconds: number };
  vapidPublicKey: string;
  accounts: Map<string, { id: string; username: string; displayName: string }>;
  devices: Map<string, FakeDevice>;
  challenges: Map<string, FakeChallenge>;
  enrollBodies: Record<string, unknown>[];
  answers: RecordedAnswer[];
  /** Every device-API request: method, path and whether its device authentication held. */
  log: { method: string; path: string; status: number }[];
  newCode(accountId: string): string;
  createChallenge(accountId: string, opts?: Partial<Pick<FakeChallenge, 'app' | 'ip' | 'location' | 'browser'>> & { numberMatching?: boolean; ttlMs?: number }): FakeChallenge;
  /** The push payload the IdP would send for this challenge to this device. */
  payloadFor(challenge: FakeChallenge, deviceId: string): Record<string, unknown>;
  routes(): Koa.Middleware;
}

export function totpForStep(secret: string, step: number): string {
  return generateSync({ secret, digits: 6, period: 30, epoch: step * 30 });
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

export function createFakeDeviceApi(): FakeDeviceApi {
  const usedJti = new Set<string>();
  const api: FakeDeviceApi = {
    issuer: '',
    policy: { numberMatching: false, unlock: 'none', pollIntervalSeconds: 2 },
    // A syntactically valid uncompressed P-256 point is not needed by the app: it only passes it on.
    vapidPublicKey: b64url(Buffer.concat([Buffer.from([4]), randomBytes(64)])),
    accounts: new Map([
      ['acc-alice', { id: 'acc-alice', username: 'alice', displayName: 'Alice Example' }],
      ['acc-bob', { id: 'acc-bob', username: 'bob', displayName: 'Bob Builder' }],
    ]),
    devices: new Map(),
    challenges: new Map(),
    enrollBodies: [],
    answers: [],
    log: [],
    newCode(accountId) {
      const code = randomBytes(8).toString('hex').toUpperCase().match(/.{4}/g)!.join('-');
      codes.set(code, accountId);
      return code;
    },
    createChallenge(accountId, opts = {}) {
      const numberMatching = opts.numberMatching ?? api.policy.numberMatching;
      const matchNumber = numberMatching ? 10 + Math.floor(Math.random() * 90) : null;
      let choices: number[] | null = null;
      if (matchNumber !== null) {
        const set = new Set([matchNumber]);
        while (set.size < 3) set.add(10 + Math.floor(Math.random() * 90));
        choices = [...set].sort(() => Math.random() - 0.5);
      }
      const now = Date.now();
      const challenge: FakeChallenge = {
        id: b64url(randomBytes(16)),
        accountId,
        nonce: b64url(randomBytes(16)),
        app: opts.app ?? 'Demo App',
        ip: opts.ip ?? '203.0.113.7',
        location: opts.location ?? null,
        browser: opts.browser ?? 'Chrome on Linux',
        createdAt: now,
        expiresAt: now + (opts.ttlMs ?? 120_000),
        status: 'pending',
        matchNumber,
        numberChoices: choices,
        reason: null,
      };
      api.challenges.set(challenge.id, challenge);
      return challenge;
    },
    payloadFor(c, deviceId) {
      return {
        v: 1, type: 'challenge', cid: c.id, issuer: api.issuer, deviceId, title: 'Sign-in request',
        body: [c.app, c.ip, c.location, c.browser].filter(Boolean).join(' · '),
        app: c.app, ip: c.ip, location: c.location, browser: c.browser,
        createdAt: c.createdAt, expiresAt: c.expiresAt, numberMatching: c.matchNumber !== null,
      };
    },
    routes() {
      return router.routes() as unknown as Koa.Middleware;
    },
  };
  const codes = new Map<string, string>();

  const fail = (ctx: Koa.Context, status: number, error: string, description = error) => {
    ctx.status = status;
    ctx.body = { error, error_description: description };
  };

  const view = (c: FakeChallenge) => {
    const status = c.status === 'pending' && Date.now() >= c.expiresAt ? 'expired' : c.status;
    return {
      id: c.id, nonce: c.nonce, app: c.app, ip: c.ip, location: c.location, browser: c.browser,
      createdAt: c.createdAt, expiresAt: c.expiresAt, status,
      numberMatching: c.matchNumber !== null, numberChoices: c.numberChoices,
    };
  };

  async function verifyJws(jws: string, typ: string): Promise<{ device: FakeDevice; claims: Record<string, unknown> } | { error: string; status: number }> {
    let header;
    try {
      header = decodeProtectedHeader(jws);
    } catch {
      return { error: 'invalid_request', status: 400 };
    }
    if (header.alg !== 'ES256') return { error: 'unsupported_alg', status: 400 };
    const device = api.devices.get(String(header.kid));
    if (!device) return { error: 'unknown_device', status: 400 };
    if (device.revoked) return { error: 'device_revoked', status: 400 };
    if (header.typ !== typ) return { error: 'invalid_request', status: 400 };
    try {
      const key = await importJWK(device.publicJwk, 'ES256');
      const { payload } = await compactVerify(jws, key, { algorithms: ['ES256'] });
      return { device, claims: JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown> };
    } catch {
      return { error: 'invalid_signature', status: 400 };
    }
  }

  const deviceAuth: Koa.Middleware = async (ctx, next) => {
    const header = ctx.get('authorization');
    const jws = header.startsWith('Device ') ? header.slice(7) : '';
    const result = await verifyJws(jws, 'device-auth+jwt');
    if ('error' in result) return fail(ctx, 401, result.error === 'device_revoked' || result.error === 'unknown_device' || result.error === 'unsupported_alg' ? result.error : 'invalid_token');
    const { device, claims } = result;
    const now = Math.floor(Date.now() / 1000);
    const ok =
      claims.iss === device.id &&
      claims.aud === `${api.issuer}/api/device` &&
      claims.htm === ctx.method &&
      claims.htu === ctx.path &&
      typeof claims.iat === 'number' && Math.abs(claims.iat - now) <= 60 &&
      typeof claims.exp === 'number' && claims.exp <= claims.iat + 120 && claims.exp > now &&
      typeof claims.jti === 'string' && claims.jti.length >= 16 && !usedJti.has(claims.jti);
    if (!ok) return fail(ctx, 401, 'invalid_token');
    usedJti.add(claims.jti as string);
    ctx.state.device = device;
    await next();
  };

  const router = new Router({ prefix: '/api/device' });
  router.use(async (ctx, next) => {
    await next();
    api.log.push({ method: ctx.method, path: ctx.path, status: ctx.status });
  });
  router.use(bodyParser());

  router.post('/enroll', (ctx) => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    api.enrollBodies.push(body);
    const accountId = typeof body.code === 'string' ? codes.get(body.code) : undefined;
    const jwk = body.publicJwk as JWK | undefined;
    if (typeof body.name !== 'string' || body.name.length < 1 || body.name.length > 64 || !jwk || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
      return fail(ctx, 400, 'invalid_request');
    }
    if (!accountId) return fail(ctx, 400, 'invalid_enrollment_code');
    codes.delete(body.code as string);
    const device: FakeDevice = {
      id: `dev_${randomUUID()}`,
      accountId,
      name: body.name,
      publicJwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y },
      push: body.push ?? null,
      revoked: false,
      lastStep: 0,
      secret: generateSecret({ length: 20 }),
      webauthn: (body.webauthn as FakeDevice['webauthn']) ?? null,
    };
    api.devices.set(device.id, device);
    ctx.status = 201;
    ctx.body = {
      deviceId: device.id,
      issuer: api.issuer,
      account: api.accounts.get(accountId),
      totp: { secret: device.secret, algorithm: 'SHA1', digits: 6, period: 30 },
      policy: { ...api.policy },
      vapidPublicKey: api.vapidPublicKey,
    };
  });

  router.get('/challenges', deviceAuth, (ctx) => {
    const device = ctx.state.device as FakeDevice;
    const now = Date.now();
    ctx.body = {
      challenges: [...api.challenges.values()].filter((c) => c.accountId === device.accountId && c.status === 'pending' && c.expiresAt > now).map(view),
    };
  });

  router.get('/challenges/:id', deviceAuth, (ctx) => {
    const device = ctx.state.device as FakeDevice;
    const c = api.challenges.get(ctx.params.id!);
    if (!c || c.accountId !== device.accountId) return fail(ctx, 404, 'challenge_not_found');
    ctx.body = view(c);
  });

  router.post('/challenges/:id/response', async (ctx) => {
    const body = (ctx.request.body ?? {}) as { response?: unknown; webauthn?: Record<string, string> };
    if (typeof body.response !== 'string') return fail(ctx, 400, 'invalid_request');
    const result = await verifyJws(body.response, 'pushotp-response+jwt');
    if ('error' in result) return fail(ctx, result.status, result.error);
    const { device, claims } = result;
    const c = api.challenges.get(ctx.params.id!);
    if (!c || claims.cid !== c.id) return fail(ctx, 404, 'challenge_not_found');
    if (c.accountId !== device.accountId) return fail(ctx, 403, 'wrong_user');
    if (claims.nonce !== c.nonce) return fail(ctx, 400, 'nonce_mismatch');
    if (typeof claims.iat !== 'number' || Math.abs(claims.iat * 1000 - Date.now()) > 60_000) return fail(ctx, 400, 'stale_response');
    if (c.status === 'pending' && Date.now() >= c.expiresAt) c.status = 'expired';
    if (c.status === 'expired') return fail(ctx, 410, 'challenge_expired');
    if (c.status !== 'pending') return fail(ctx, 409, 'challenge_resolved');
    const now = Math.floor(Date.now() / 30_000);
    const matched = [now - 1, now, now + 1].filter((s) => totpForStep(device.secret, s) === claims.otp);
    const fresh = matched.filter((s) => s > device.lastStep);
    if (fresh.length === 0) return fail(ctx, 400, matched.length ? 'otp_replayed' : 'invalid_otp');
    const step = Math.min(...fresh);
    const decision = claims.decision;
    if (decision === 'approve' && c.matchNumber !== null && claims.number === undefined) return fail(ctx, 400, 'number_required');
    device.lastStep = step;
    let outcome: { status: 'approved' | 'denied'; reason?: string };
    if (decision === 'deny') outcome = { status: 'denied', reason: 'denied' };
    else if (decision === 'report') outcome = { status: 'denied', reason: 'reported' };
    else if (decision === 'approve') outcome = c.matchNumber !== null && claims.number !== c.matchNumber ? { status: 'denied', reason: 'wrong_number' } : { status: 'approved' };
    else return fail(ctx, 400, 'invalid_request');
    c.status = outcome.status;
    c.reason = outcome.reason ?? null;
    api.answers.push({ cid: c.id, claims, webauthn: body.webauthn, step, outcome: outcome.reason ?? outcome.status });
    ctx.body = outcome;
  });

  router.put('/push-subscription', deviceAuth, (ctx) => {
    const device = ctx.state.device as FakeDevice;
    const body = (ctx.request.body ?? {}) as { push?: unknown };
    device.push = body.push ?? null;
    ctx.body = { pushStatus: device.push ? 'active' : 'none' };
  });

  router.delete('/', deviceAuth, (ctx) => {
    (ctx.state.device as FakeDevice).revoked = true;
    ctx.body = { status: 'revoked' };
  });

  return api;
}

/** SHA-256 over UTF-8 (cid + nonce), base64url: what a WebAuthn answer's clientDataJSON must carry. */
export function webauthnChallengeFor(cid: string, nonce: string): string {
  return createHash('sha256').update(cid + nonce, 'utf8').digest('base64url');
}
