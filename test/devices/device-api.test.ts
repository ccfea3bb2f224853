import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import {
  createAccount, fakePublicJwk, fakePushSubscription, openTestPostgres, type TestDb,
} from '../support/devices-fixtures.js';
import { TEST_ISSUER, manualClock, startDeviceApi, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * The device API of docs/device-api.md over real HTTP, PostgreSQL and Redis, played by a simulated
 * phone. Each test asserts what the phone, or an attacker holding one, observes.
 */
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;
let alice: string;
let bob: string;
let phone: SimulatedAuthenticator;
let bobPhone: SimulatedAuthenticator;

beforeAll(async () => {
  handle = await openTestPostgres('devapi');
  // This file enrolls many phones for alice; the cap has its own test (device-cap.race.test.ts).
  api = await startDeviceApi(handle, clock, { maxDevicesPerAccount: 100 });
  alice = await createAccount(handle.db, 'alice');
  bob = await createAccount(handle.db, 'bob');
  phone = await api.enroll(alice, 'Pixel 8');
  bobPhone = await api.enroll(bob);
});

afterAll(async () => {
  await api.close();
  await handle.close();
});

// Each successful answer uses up a TOTP step of its device (RFC 6238 5.2), so every test starts in
// a fresh 30-second step.
beforeEach(() => clock.advance(30_000));

async function post(path: string, body: string, contentType = 'application/json') {
  const res = await fetch(`${api.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, body: (await res.json()) as { error?: string; error_description?: string } };
}

describe('enrollment', () => {
  it('answers 201 with the device id, account, TOTP parameters, policy and VAPID key', async () => {
    expect(phone.enrollment).toMatchObject({
      deviceId: expect.stringMatching(/^dev_/),
      issuer: TEST_ISSUER,
      account: { id: alice, username: 'alice', displayName: 'Alice Example' },
      totp: { secret: expect.stringMatching(/^[A-Z2-7]{32}$/), algorithm: 'SHA1', digits: 6, period: 30 },
      policy: { numberMatching: true, unlock: 'none', pollIntervalSeconds: 5 },
      vapidPublicKey: 'BTestVapidKey',
    });
    const device = await api.devices.get(phone.deviceId);
    expect(device).toMatchObject({ accountId: alice, name: 'Pixel 8', status: 'active', pushStatus: 'none' });
    expect(api.audit.events).toContainEqual(expect.objectContaining({ type: 'device.enrolled', accountId: alice }));
  });

  it('stores the TOTP secret sealed, never in clear', async () => {
    const [row] = await handle.db.query<{ t: string }>('SELECT devices::text AS t FROM devices WHERE id = $1', [phone.deviceId]);
    expect(row!.t).not.toContain(phone.totpSecret);
    const sealed = (await api.devices.getTotpSecretSealed(phone.deviceId))!;
    expect(api.secretBox.open(sealed, phone.deviceId)).toBe(phone.totpSecret);
  });

  it('works once per code, and a used or unknown code gets the same answer', async () => {
    const { code } = await api.codes.issue(alice, 'test');
    await SimulatedAuthenticator.enroll(api.baseUrl, code);
    const again = await enrollRaw({ code });
    expect(again).toEqual({ status: 400, body: { error: 'invalid_enrollment_code', error_description: expect.any(String) } });
    expect((await enrollRaw({ code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ' })).body.error).toBe('invalid_enrollment_code');
  });

  it('refuses a code issued for a disabled account', async () => {
    const dave = await createAccount(handle.db, 'dave', { disabled: true });
    const { code } = await api.codes.issue(dave, 'test');
    expect((await enrollRaw({ code })).body.error).toBe('invalid_enrollment_code');
  });

  it('stores a push subscription given at enrollment', async () => {
    const { code } = await api.codes.issue(alice, 'test');
    const push = await fakePushSubscription();
    const p = await SimulatedAuthenticator.enroll(api.baseUrl, code, { push });
    expect(await api.devices.get(p.deviceId)).toMatchObject({ push, pushStatus: 'active' });
  });

  async function enrollRaw(over: Record<string, unknown>) {
    const body = { code: 'x', name: 'Phone', publicJwk: await fakePublicJwk(), push: null, ...over };
    return post('/api/device/enroll', JSON.stringify(body));
  }

  it.each<[string, (jwk: Record<string, string>) => Record<string, unknown>]>([
    ['a missing name', () => ({ name: undefined })],
    ['an empty name', () => ({ name: '   ' })],
    ['a name over 64 characters', () => ({ name: 'n'.repeat(65) })],
    ['a name with control characters', () => ({ name: 'a\u0007b' })],
    ['a name of the wrong type', () => ({ name: 7 })],
    ['a push member of the wrong type', () => ({ push: 'none' })],
    ['an RSA key', () => ({ publicJwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } })],
    ['a P-384 curve', (jwk) => ({ publicJwk: { ...jwk, crv: 'P-384' } })],
    ['x of the wrong length', (jwk) => ({ publicJwk: { ...jwk, x: jwk.x!.slice(1) } })],
    ['a point not on the curve', (jwk) => ({ publicJwk: { ...jwk, y: jwk.x } })],
    ['an http push endpoint', () => ({ push: { endpoint: 'http://push.example.test/x', keys: { p256dh: 'A'.repeat(87), auth: 'A'.repeat(22) } } })],
    ['push keys that are not base64url', () => ({ push: { endpoint: 'https://push.example.test/x', keys: { p256dh: '*'.repeat(87), auth: 'A'.repeat(22) } } })],
    ['a code of the wrong type', () => ({ code: ['x'] })],
  ])('refuses %s with invalid_request, and the code still works afterwards', async (_what, change) => {
    const { code } = await api.codes.issue(alice, 'test');
    const jwk = await fakePublicJwk();
    const res = await enrollRaw({ code, publicJwk: jwk, ...change(jwk) });
    expect(res).toEqual({ status: 400, body: { error: 'invalid_request', error_description: expect.any(String) } });
    await expect(SimulatedAuthenticator.enroll(api.baseUrl, code)).resolves.toBeInstanceOf(SimulatedAuthenticator);
  });

  it('drops a private "d" sent along with the public key', async () => {
    const { code } = await api.codes.issue(alice, 'test');
    const res = await fetch(`${api.baseUrl}/api/device/enroll`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, name: 'P', publicJwk: { ...(await fakePublicJwk()), d: 'secret-d' }, push: null }),
    });
    const { deviceId } = (await res.json()) as { deviceId: string };
    expect(Object.keys((await api.devices.get(deviceId))!.publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
  });
});

describe('pending requests', () => {
  it("lists the user's pending challenges, with choices but never the right number", async () => {
    const ch = await api.challenge(alice, { numberMatching: true });
    const other = await api.challenge(bob);
    const list = await phone.pending();
    const view = list.find((c) => c.id === ch.id)!;
    expect(view).toEqual({
      id: ch.id, nonce: ch.nonce, app: 'Demo App', ip: '203.0.113.7', location: null, browser: 'Chrome on Linux', bindingMessage: null,
      createdAt: ch.createdAt, expiresAt: ch.expiresAt, status: 'pending', numberMatching: true, numberChoices: ch.numberChoices,
    });
    expect(JSON.stringify(list)).not.toContain('matchNumber');
    expect(list.map((c) => c.id)).not.toContain(other.id);
  });

  it("hides another user's challenge behind 404", async () => {
    const other = await api.challenge(bob);
    const res = await phone.request('GET', `/api/device/challenges/${other.id}`);
    expect(res).toMatchObject({ status: 404, body: { error: 'challenge_not_found' } });
    expect((await phone.request('GET', '/api/device/challenges/nope')).status).toBe(404);
  });
});

describe('answering', () => {
  it('approves: 200, challenge approved with amr otp+swk, audited, hook called', async () => {
    const ch = await api.challenge(alice, { numberMatching: true });
    const res = await phone.respond(ch.id, 'approve', { number: ch.matchNumber! });
    expect(res).toMatchObject({ status: 200, body: { status: 'approved' } });
    const stored = await api.challenges.get(ch.id, clock.now());
    expect(stored).toMatchObject({
      status: 'approved',
      resolution: { status: 'approved', deviceId: phone.deviceId, decision: 'approve', reason: null, amr: ['otp', 'swk'] },
    });
    expect(api.audit.events).toContainEqual(expect.objectContaining({ type: 'push.approved', accountId: alice, clientId: 'demo' }));
    expect(api.resolved.filter(([c]) => c.id === ch.id)).toHaveLength(1);
    expect((await api.devices.get(phone.deviceId))!.lastUsedAt).not.toBeNull();
  });

  it('lets exactly one of 50 concurrent valid answers through', async () => {
    const ch = await api.challenge(alice);
    const otp = phone.currentTotp();
    const iat = Math.floor(clock.now() / 1000);
    const jwss = await Promise.all(Array.from({ length: 50 }, () =>
      phone.signResponse({ cid: ch.id, nonce: ch.nonce, decision: 'approve', otp, iat })));
    const results = await Promise.all(jwss.map((jws) => phone.sendResponse(ch.id, jws)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      // The losers: the step was used, the request answered, or (a TOTP check is reserved before it is
      // made, so a burst from one account is counted one after the other) too many checks at once.
      expect([400, 409, 429]).toContain(r.status);
      expect(['otp_replayed', 'challenge_resolved', 'too_many_attempts']).toContain((r.body as { error: string }).error);
    }
    expect(await api.status(ch.id)).toBe('approved');
    expect(api.resolved.filter(([c]) => c.id === ch.id)).toHaveLength(1);
  });

  it('denies', async () => {
    const ch = await api.challenge(alice);
    expect(await phone.respond(ch.id, 'deny')).toMatchObject({ status: 200, body: { status: 'denied', reason: 'denied' } });
    expect(await api.challenges.get(ch.id, clock.now())).toMatchObject({ status: 'denied', resolution: { amr: [], decision: 'deny' } });
    expect(api.audit.events).toContainEqual(expect.objectContaining({ type: 'push.denied' }));
  });

  it('reports fraud: denied, reason reported, audited as push.reported', async () => {
    const ch = await api.challenge(alice);
    expect(await phone.respond(ch.id, 'report')).toMatchObject({ status: 200, body: { status: 'denied', reason: 'reported' } });
    expect(await api.status(ch.id)).toBe('denied');
    expect(api.audit.events).toContainEqual(expect.objectContaining({
      type: 'push.reported', detail: expect.objectContaining({ challengeId: ch.id, reason: 'reported' }),
    }));
  });

  it('denies the sign-in when the wrong number is picked', async () => {
    const ch = await api.challenge(alice, { numberMatching: true });
    const wrong = ch.numberChoices!.find((n) => n !== ch.matchNumber)!;
    expect(await phone.respond(ch.id, 'approve', { number: wrong }))
      .toMatchObject({ status: 200, body: { status: 'denied', reason: 'wrong_number' } });
    expect(await api.challenges.get(ch.id, clock.now())).toMatchObject({ status: 'denied', resolution: { reason: 'wrong_number', amr: [] } });
  });

  it('requires the number when number matching is on, leaving the challenge pending', async () => {
    const ch = await api.challenge(alice, { numberMatching: true });
    expect(await phone.respond(ch.id, 'approve')).toMatchObject({ status: 400, body: { error: 'number_required' } });
    expect(await api.status(ch.id)).toBe('pending');
  });

  it('refuses a replayed answer: the same JWS again, and the same TOTP on another challenge', async () => {
    const ch = await api.challenge(alice);
    const otp = phone.currentTotp();
    const jws = await phone.signResponse({ cid: ch.id, nonce: ch.nonce, decision: 'deny', otp, iat: Math.floor(clock.now() / 1000) });
    expect((await phone.sendResponse(ch.id, jws)).status).toBe(200);
    const again = await phone.sendResponse(ch.id, jws);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
    expect(await api.challenges.get(ch.id, clock.now())).toMatchObject({ status: 'denied', resolution: { decision: 'deny' } });

    const next = await api.challenge(alice);
    expect(await phone.respond(next.id, 'approve', { otp })).toMatchObject({ status: 400, body: { error: 'otp_replayed' } });
    expect(await api.status(next.id)).toBe('pending');
  });

  it('refuses an answer for a challenge other than the one in the path', async () => {
    const a = await api.challenge(alice);
    const b = await api.challenge(alice);
    const jws = await phone.signResponse({ cid: a.id, nonce: a.nonce, decision: 'approve', otp: phone.currentTotp(), iat: Math.floor(clock.now() / 1000) });
    expect(await phone.sendResponse(b.id, jws)).toMatchObject({ status: 404, body: { error: 'challenge_not_found' } });
    expect([await api.status(a.id), await api.status(b.id)]).toEqual(['pending', 'pending']);
  });

  it("refuses to answer another user's challenge with 403 wrong_user", async () => {
    const ch = await api.challenge(bob);
    const res = await phone.respond(ch.id, 'approve', { nonce: ch.nonce });
    expect(res).toMatchObject({ status: 403, body: { error: 'wrong_user' } });
    expect(await api.status(ch.id)).toBe('pending');
    // Bob's own phone still can.
    expect((await bobPhone.respond(ch.id, 'approve')).status).toBe(200);
  });

  it('refuses a signature by another key under this device id', async () => {
    const ch = await api.challenge(alice);
    const impostor = await SimulatedAuthenticator.create({
      baseUrl: api.baseUrl, issuer: TEST_ISSUER, deviceId: phone.deviceId, totpSecret: phone.totpSecret, now: clock.now,
    });
    expect(await impostor.respond(ch.id, 'approve', { nonce: ch.nonce }))
      .toMatchObject({ status: 400, body: { error: 'invalid_signature' } });
    expect(await api.status(ch.id)).toBe('pending');
  });

  it('refuses a wrong nonce, a stale iat and a wrong TOTP', async () => {
    const ch = await api.challenge(alice);
    expect((await phone.respond(ch.id, 'approve', { nonce: 'A'.repeat(22) })).body).toMatchObject({ error: 'nonce_mismatch' });
    expect((await phone.respond(ch.id, 'approve', { iat: Math.floor(clock.now() / 1000) - 61 })).body).toMatchObject({ error: 'stale_response' });
    const bad = String((Number(phone.currentTotp()) + 1) % 1_000_000).padStart(6, '0');
    expect((await phone.respond(ch.id, 'approve', { otp: bad })).body).toMatchObject({ error: 'invalid_otp' });
    expect(await api.status(ch.id)).toBe('pending');
  });

  it('answers 410 for an expired challenge', async () => {
    const ch = await api.challenge(alice, { ttlMs: 10_000 });
    const nonce = ch.nonce;
    clock.advance(11_000);
    expect(await phone.respond(ch.id, 'approve', { nonce })).toMatchObject({ status: 410, body: { error: 'challenge_expired' } });
  });

  it('answers 409 for an answered challenge', async () => {
    const ch = await api.challenge(alice);
    expect((await phone.respond(ch.id, 'deny')).status).toBe(200);
    clock.advance(30_000);
    expect(await phone.respond(ch.id, 'approve', { nonce: ch.nonce }))
      .toMatchObject({ status: 409, body: { error: 'challenge_resolved' } });
    expect(await api.status(ch.id)).toBe('denied');
  });

  it('refuses alg none and unknown devices', async () => {
    const ch = await api.challenge(alice);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { cid: ch.id, nonce: ch.nonce, decision: 'approve', otp: phone.currentTotp(), iat: Math.floor(clock.now() / 1000) };
    const none = `${b64({ alg: 'none', kid: phone.deviceId, typ: 'pushotp-response+jwt' })}.${b64(claims)}.`;
    expect(await phone.sendResponse(ch.id, none)).toMatchObject({ status: 400, body: { error: 'unsupported_alg' } });
    const stranger = await SimulatedAuthenticator.create({ baseUrl: api.baseUrl, issuer: TEST_ISSUER, deviceId: 'dev_unknown', totpSecret: phone.totpSecret });
    expect(await stranger.respond(ch.id, 'approve', { nonce: ch.nonce })).toMatchObject({ status: 400, body: { error: 'unknown_device' } });
    expect(await api.status(ch.id)).toBe('pending');
  });

  it.each<[string, () => Promise<{ status: number; body: { error?: string } }>, number]>([
    ['a body that is not JSON', () => post(`/api/device/challenges/${pendingId}/response`, 'response=abc', 'application/x-www-form-urlencoded'), 415],
    ['text/plain', () => post(`/api/device/challenges/${pendingId}/response`, '{"response":"a.b.c"}', 'text/plain'), 415],
    ['broken JSON', () => post(`/api/device/challenges/${pendingId}/response`, '{"response":'), 400],
    ['a JSON array', () => post(`/api/device/challenges/${pendingId}/response`, '["a.b.c"]'), 400],
    ['a JSON string', () => post(`/api/device/challenges/${pendingId}/response`, '"a.b.c"'), 400],
    ['a missing response', () => post(`/api/device/challenges/${pendingId}/response`, '{}'), 400],
    ['a response of the wrong type', () => post(`/api/device/challenges/${pendingId}/response`, '{"response":5}'), 400],
    ['a response that is not a JWS', () => post(`/api/device/challenges/${pendingId}/response`, '{"response":"hello"}'), 400],
    ['a JWS with a garbage header', () => post(`/api/device/challenges/${pendingId}/response`, '{"response":"e30.e30.AAAA"}'), 400],
    ['a huge body', () => post(`/api/device/challenges/${pendingId}/response`, JSON.stringify({ response: 'a'.repeat(20_000) })), 413],
  ])('refuses %s with a JSON error, leaving the challenge pending', async (_what, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    expect(await api.status(pendingId)).toBe('pending');
  });

  let pendingId = '';
  beforeAll(async () => { pendingId = (await api.challenge(alice, { ttlMs: 3_600_000 })).id; });
});

describe('device-authenticated requests', () => {
  it('refuses a missing or malformed Authorization header', async () => {
    for (const authorization of [undefined, 'Bearer abc', 'Device ', 'Device a.b.c']) {
      const res = await fetch(`${api.baseUrl}/api/device/challenges`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_token' });
    }
  });

  it('accepts each jti once', async () => {
    const authorization = await phone.authHeader('GET', '/api/device/challenges');
    const first = await fetch(`${api.baseUrl}/api/device/challenges`, { headers: { authorization } });
    expect(first.status).toBe(200);
    const replay = await fetch(`${api.baseUrl}/api/device/challenges`, { headers: { authorization } });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a token made for another path or method', async () => {
    const authorization = await phone.authHeader('GET', '/api/device/challenges');
    const res = await fetch(`${api.baseUrl}/api/device/challenges/abc`, { headers: { authorization } });
    expect(res.status).toBe(401);
    const put = await fetch(`${api.baseUrl}/api/device/push-subscription`, {
      method: 'PUT', headers: { authorization: await phone.authHeader('GET', '/api/device/push-subscription'), 'content-type': 'application/json' },
      body: '{"push":null}',
    });
    expect(put.status).toBe(401);
  });

  it('updates the push subscription, and switches to poll mode', async () => {
    const push = await fakePushSubscription();
    expect(await phone.updatePush(push)).toMatchObject({ status: 200, body: { pushStatus: 'active' } });
    expect(await api.devices.get(phone.deviceId)).toMatchObject({ push, pushStatus: 'active' });
    expect(await phone.updatePush(null)).toMatchObject({ status: 200, body: { pushStatus: 'none' } });
    expect(await api.devices.get(phone.deviceId)).toMatchObject({ push: null, pushStatus: 'none' });
    // Audited each time, with the push service's host and never the endpoint (a capability).
    const trail = api.audit.events.filter((e) => e.type === 'device.push_subscription' && e.detail?.deviceId === phone.deviceId);
    expect(trail.map((e) => e.detail?.pushService)).toEqual([new URL(push.endpoint).host, null]);
    expect(JSON.stringify(trail)).not.toContain(new URL(push.endpoint).pathname);
  });

  it('refuses a push subscription that is not https, or malformed', async () => {
    const push = await fakePushSubscription('http://push.example.test/x');
    expect(await phone.updatePush(push)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await phone.request('PUT', '/api/device/push-subscription', { push: { endpoint: 'https://x.test' } }))
      .toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await phone.request('PUT', '/api/device/push-subscription', {}))
      .toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('unregisters: the device is revoked, its requests and answers refused', async () => {
    const spare = await api.enroll(alice, 'Old phone');
    const ch = await api.challenge(alice);
    expect(await spare.unregister()).toMatchObject({ status: 200, body: { status: 'revoked' } });
    expect((await api.devices.get(spare.deviceId))!.status).toBe('revoked');
    expect(await spare.request('GET', '/api/device/challenges')).toMatchObject({ status: 401, body: { error: 'device_revoked' } });
    expect(await spare.respond(ch.id, 'approve', { nonce: ch.nonce })).toMatchObject({ status: 400, body: { error: 'device_revoked' } });
    expect(await spare.updatePush(await fakePushSubscription())).toMatchObject({ status: 401, body: { error: 'device_revoked' } });
    expect(await api.status(ch.id)).toBe('pending');
  });
});

describe('routing', () => {
  it('answers unknown paths under /api/device with 404 JSON', async () => {
    for (const path of ['/api/device/nope', '/api/device/challenges/x/y/z']) {
      const res = await fetch(`${api.baseUrl}${path}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found' });
    }
  });

  it('answers a wrong method with 405 JSON and Allow', async () => {
    const res = await fetch(`${api.baseUrl}/api/device/enroll`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
    const del = await fetch(`${api.baseUrl}/api/device/challenges`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    const get = await fetch(`${api.baseUrl}/api/device`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('DELETE');
  });

  it('never lets a cache keep an answer', async () => {
    const res = await fetch(`${api.baseUrl}/api/device/nope`);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('rate limit', () => {
  it('answers 429 rate_limited with Retry-After once a device answers too often', async () => {
    const limited = await startDeviceApi(handle, clock, { responseRateLimit: { max: 3, windowMs: 60_000 }, maxDevicesPerAccount: 100 });
    try {
      const p = await limited.enroll(alice, 'Busy phone');
      const ch = await limited.challenge(alice);
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof p.respond>> | undefined;
      for (let i = 0; i < 4; i++) {
        last = await p.respond(ch.id, 'approve', { nonce: ch.nonce, otp: '000000' });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([400, 400, 400, 429]);
      expect(last!.body).toMatchObject({ error: 'rate_limited' });
      // The seconds to the end of the clock's minute, when answers are taken again (red-team: it said 60 whatever was left).
      expect(Number(last!.headers.get('retry-after'))).toBe(Math.max(1, Math.ceil(((Math.floor(clock.now() / 60_000) + 1) * 60_000 - clock.now()) / 1000)));
      expect(await limited.status(ch.id)).toBe('pending');
    } finally {
      await limited.close();
    }
  });
});

describe('readings of docs/device-api.md by an independent authenticator (red-team, round 3)', () => {
  it('a signed call whose exp is not after its iat is 401 invalid_token', async () => {
    const iat = Math.floor(clock.now() / 1000);
    const res = await phone.request('GET', '/api/device/challenges', undefined, { iat: iat + 50, exp: iat + 5 });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'invalid_token' });
    expect(res.headers.get('www-authenticate')).toMatch(/^Device/);
  });

  it('a Device credential that is not token68 (a quoted or JSON-serialized JWS) is 401 invalid_token with WWW-Authenticate', async () => {
    const jws = (await phone.authHeader('GET', '/api/device/challenges')).slice('Device '.length);
    for (const credential of [`"${jws}"`, JSON.stringify({ protected: jws.split('.')[0], payload: jws.split('.')[1], signature: jws.split('.')[2] })]) {
      const res = await fetch(`${api.baseUrl}/api/device/challenges`, { headers: { authorization: `Device ${credential}`, accept: 'application/json' } });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_token' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Device/);
    }
  });

  it('paths answer only as documented: other letter case or a trailing slash is not the device API', async () => {
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
    for (const path of ['/API/DEVICE/CHALLENGES', '/api/device/challenges/', '/api/Device/challenges']) {
      const res = await phone.request('GET', path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    const { code } = await api.codes.issue(alice, 'test');
    const spelled = await fetch(`${api.baseUrl}/API/Device/Enroll/`, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ code, name: 'Respelled', publicKey: await fakePublicJwk(), push: null }),
    });
    expect(spelled.status).toBe(404);
  });

  it('webauthn-options, when the server asks for no WebAuthn, answers every code alike (no oracle for live codes)', async () => {
    const { code } = await api.codes.issue(alice, 'test');
    const ask = async (c: string) => {
      const res = await fetch(`${api.baseUrl}/api/device/enroll/webauthn-options`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ code: c }) });
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    };
    const live = await ask(code);
    const dead = await ask('ABCD-EFGH-JKMN-PQRS');
    expect(live).toEqual(dead);
    expect(live).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });
});
