import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { randomToken } from '../../src/crypto/hash.js';
import { newTotpSecret, totpStep } from '../../src/otp/totp.js';
import { readKid, verifyDeviceAuth } from '../../src/approval/verify-device-auth.js';
import { verifyResponse } from '../../src/approval/verify-response.js';
import type { Challenge } from '../../src/challenge/types.js';
import type { Device } from '../../src/devices/types.js';
import { AuthenticatorHttpError, SimulatedAuthenticator } from '../support/authenticator.js';
import { makeChallenge, makeDevice } from './fixtures.js';

/**
 * The simulated authenticator against a minimal in-test double of the device API, built only from
 * docs/device-api.md and the pure verifiers. It proves that what the simulated phone sends over
 * HTTP is what the contract asks for; the real server gets its own end-to-end tests.
 */
const ENROLL_CODE = 'ABCD-EFGH-IJKL-MNOP';
const devices = new Map<string, { device: Device; secret: string }>();
const challenges = new Map<string, Challenge>();
const seenJti = new Set<string>();
let enrolledJwk: unknown;
let server: Server;
let baseUrl = '';

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return JSON.parse(text) as Record<string, unknown>;
}

function view(c: Challenge): object {
  return {
    id: c.id, nonce: c.nonce, app: c.appName, ip: c.ip, location: c.location, browser: c.browser, createdAt: c.createdAt,
    expiresAt: c.expiresAt, status: c.status, numberMatching: c.matchNumber !== null, numberChoices: c.numberChoices,
  };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', baseUrl).pathname;
  const method = req.method ?? 'GET';
  if (method === 'POST' && path === '/api/device/enroll') {
    const body = await readJson(req);
    if (body.code !== ENROLL_CODE) return send(res, 400, { error: 'invalid_enrollment_code' });
    enrolledJwk = body.publicJwk;
    const id = `dev_${randomToken(16)}`;
    const secret = newTotpSecret();
    devices.set(id, { device: makeDevice(id, 'acct_alice', body.publicJwk as JWK, { lastOtpStep: 0, lastAnswerStep: 0, createdAt: new Date() }), secret });
    return send(res, 201, {
      deviceId: id, issuer: baseUrl, account: { id: 'acct_alice', username: 'alice', displayName: 'Alice' },
      totp: { secret, algorithm: 'SHA1', digits: 6, period: 30 },
      policy: { numberMatching: true, unlock: 'none', pollIntervalSeconds: 5 }, vapidPublicKey: 'B-test',
    });
  }
  const answer = /^\/api\/device\/challenges\/([^/]+)\/response$/.exec(path);
  if (method === 'POST' && answer) {
    const { response } = await readJson(req);
    const entry = devices.get(readKid(response) ?? '');
    const challenge = challenges.get(decodeURIComponent(answer[1]!)) ?? null;
    const verdict = await verifyResponse({ jws: String(response), challenge, device: entry?.device ?? null, totpSecret: entry?.secret ?? '', now: Date.now() });
    if (!verdict.ok) return send(res, verdict.status, { error: verdict.code, error_description: verdict.description });
    entry!.device.lastAnswerStep = verdict.step;
    challenge!.status = verdict.outcome;
    return send(res, 200, verdict.reason ? { status: verdict.outcome, reason: verdict.reason } : { status: verdict.outcome });
  }
  const auth = /^Device (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const entry = devices.get(readKid(auth) ?? '');
  const verdict = await verifyDeviceAuth({ jws: auth, device: entry?.device ?? null, method, path, audience: `${baseUrl}/api/device`, now: Date.now() });
  if (!verdict.ok) return send(res, 401, { error: verdict.code });
  if (seenJti.has(verdict.jti)) return send(res, 401, { error: 'invalid_token' });
  seenJti.add(verdict.jti);
  const device = entry!.device;
  const one = /^\/api\/device\/challenges\/([^/]+)$/.exec(path);
  if (method === 'GET' && path === '/api/device/challenges') {
    return send(res, 200, { challenges: [...challenges.values()].filter((c) => c.accountId === device.accountId && c.status === 'pending').map(view) });
  }
  if (method === 'GET' && one) {
    const c = challenges.get(decodeURIComponent(one[1]!));
    return c && c.accountId === device.accountId ? send(res, 200, view(c)) : send(res, 404, { error: 'challenge_not_found' });
  }
  if (method === 'PUT' && path === '/api/device/push-subscription') {
    const { push } = await readJson(req);
    device.push = (push ?? null) as Device['push'];
    return send(res, 200, { pushStatus: push ? 'active' : 'none' });
  }
  if (method === 'DELETE' && path === '/api/device') {
    device.status = 'revoked';
    return send(res, 200, { status: 'revoked' });
  }
  return send(res, 404, { error: 'not_found' });
}

function newChallenge(overrides: Partial<Challenge> = {}): Challenge {
  const now = Date.now();
  const c = makeChallenge({ createdAt: now, expiresAt: now + 120_000, ...overrides });
  challenges.set(c.id, c);
  return c;
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res).catch((e: unknown) => send(res, 500, { error: String(e) })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('simulated authenticator over HTTP', () => {
  it('enrolls with a public JWK only, and keeps a non-extractable private key', async () => {
    const phone = await SimulatedAuthenticator.enroll(baseUrl, ENROLL_CODE, { name: 'Pixel test' });
    expect(Object.keys(enrolledJwk as object).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(phone.privateKey.extractable).toBe(false);
    expect(phone.deviceId).toMatch(/^dev_/);
    expect(phone.policy?.numberMatching).toBe(true);
    expect(phone.currentTotp()).toMatch(/^\d{6}$/);
  });

  it('a wrong enrollment code surfaces as AuthenticatorHttpError with the status', async () => {
    await expect(SimulatedAuthenticator.enroll(baseUrl, 'WRONG')).rejects.toMatchObject({ status: 400, body: { error: 'invalid_enrollment_code' } });
  });

  it('lists, fetches and answers a challenge; a second answer is refused', async () => {
    const phone = await SimulatedAuthenticator.enroll(baseUrl, ENROLL_CODE);
    const c = newChallenge();
    const pending = await phone.pending();
    expect(pending.map((p) => p.id)).toContain(c.id);
    expect((await phone.challenge(c.id)).numberChoices).toEqual([17, 42, 88]);

    expect(await phone.respond(c.id, 'approve', { number: 42 })).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(c.status).toBe('approved');
    expect(await phone.respond(c.id, 'approve', { number: 42 })).toMatchObject({ status: 409, body: { error: 'challenge_resolved' } });
  });

  it('a wrong number denies; the second answer in one TOTP step uses the next step', async () => {
    const phone = await SimulatedAuthenticator.enroll(baseUrl, ENROLL_CODE);
    const first = newChallenge();
    const second = newChallenge();
    expect(await phone.respond(first.id, 'approve', { number: 17 })).toMatchObject({ status: 200, body: { status: 'denied', reason: 'wrong_number' } });
    expect(await phone.respond(second.id, 'report')).toMatchObject({ status: 200, body: { status: 'denied', reason: 'reported' } });
    expect(devices.get(phone.deviceId)!.device.lastAnswerStep).toBeGreaterThanOrEqual(totpStep(Date.now()));
  });

  it('a replayed passcode is refused over HTTP (otp_replayed)', async () => {
    const phone = await SimulatedAuthenticator.enroll(baseUrl, ENROLL_CODE);
    const first = newChallenge();
    const otp = phone.currentTotp();
    expect((await phone.respond(first.id, 'approve', { number: 42, otp })).status).toBe(200);
    const second = newChallenge();
    expect(await phone.respond(second.id, 'approve', { number: 42, otp })).toMatchObject({ status: 400, body: { error: 'otp_replayed' } });
  });

  it('cannot see another user’s challenge', async () => {
    const phone = await SimulatedAuthenticator.enroll(baseUrl, ENROLL_CODE);
    const bobs = newChallenge({ accountId: 'acct_bob' });
    expect((await phone.pending()).map((p) => p.id)).not.toContain(bobs.id);
    await expect(phone.challenge(bobs.id)).rejects.toBeInstanceOf(AuthenticatorHttpError);
  });

  it('updates its push subscription and unregisters; afterwards it is refused as revoked', async () => {
    const phone = await SimulatedAuthenticator.enroll(baseUrl, ENROLL_CODE);
    const push = { endpoint: 'https://push.example.test/abc', keys: { p256dh: 'p', auth: 'a' } };
    expect(await phone.updatePush(push)).toMatchObject({ status: 200, body: { pushStatus: 'active' } });
    expect(devices.get(phone.deviceId)!.device.push).toEqual(push);
    expect(await phone.updatePush(null)).toMatchObject({ status: 200, body: { pushStatus: 'none' } });
    expect(await phone.unregister()).toMatchObject({ status: 200, body: { status: 'revoked' } });
    await expect(phone.pending()).rejects.toMatchObject({ status: 401, body: { error: 'device_revoked' } });
  });
});
