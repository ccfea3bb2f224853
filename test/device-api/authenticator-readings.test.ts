import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator, wrongTotp, type EnrollResponse } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { TEST_ISSUER, manualClock, startDeviceApi, type DeviceApiHarness } from '../support/devices-api.js';
import type { Challenge } from '../../src/challenge/types.js';

/**
 * Readings of docs/device-api.md that an authenticator written from the page alone may make, over
 * real HTTP, PostgreSQL and Redis. The harmless ones work end to end (a number sent as a string of
 * digits, an enrollment without `push`, an `aud` array holding the audience, an enrollment code in
 * lower case without dashes); the others are refused with the documented error and change nothing
 * (an `otp` sent as a JSON number, an answer without `otp`, an `aud` array without the audience,
 * an `htm`/`htu` that is not the exact method and path).
 */
const clock = manualClock();
const AUDIENCE = `${TEST_ISSUER}/api/device`;
let handle: TestDb;
let api: DeviceApiHarness;
let alice: string;
let users = 0;

beforeAll(async () => {
  handle = await openTestPostgres('devreadings');
  api = await startDeviceApi(handle, clock, { maxDevicesPerAccount: 100 });
  alice = await createAccount(handle.db, 'alice');
});

afterAll(async () => {
  await api.close();
  await handle.close();
});

// Each accepted answer uses up a TOTP step of its device (RFC 6238 5.2): every test starts in a fresh step.
beforeEach(() => clock.advance(30_000));

/** A confirmed phone (section 1b) of a fresh account, so no test's answers or refusals touch another's. */
async function freshPhone(): Promise<{ accountId: string; phone: SimulatedAuthenticator }> {
  const accountId = await createAccount(handle.db, `user${++users}`);
  const phone = await api.enroll(accountId);
  await phone.pending();
  return { accountId, phone };
}

/** An answer's claims as the page lists them, at the server's clock, with `over` merged in (undefined drops a claim). */
function claims(phone: SimulatedAuthenticator, ch: Challenge, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cid: ch.id, nonce: ch.nonce, decision: 'approve', otp: phone.currentTotp(), iat: Math.floor(clock.now() / 1000), ...over,
  };
}

async function answer(phone: SimulatedAuthenticator, ch: Challenge, over: Record<string, unknown> = {}) {
  return phone.sendResponse(ch.id, await phone.signResponse(claims(phone, ch, over)));
}

const invalidRequest = { status: 400, body: { error: 'invalid_request', error_description: expect.any(String) } };

async function postJson(path: string, body: unknown) {
  const res = await fetch(`${api.baseUrl}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the number of an answer (section 4)', () => {
  it('a string of decimal digits is the same number: the right one approves', async () => {
    const { phone } = await freshPhone();
    const ch = await api.challenge(phone.enrollment!.account.id, { numberMatching: true });
    expect(await answer(phone, ch, { number: String(ch.matchNumber) })).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(await api.challenges.get(ch.id, clock.now())).toMatchObject({
      status: 'approved', resolution: { decision: 'approve', reason: null, amr: ['otp', 'swk'] },
    });
  });

  it('a wrong number as a string denies the sign-in (wrong_number), as a wrong integer does', async () => {
    const { phone } = await freshPhone();
    const ch = await api.challenge(phone.enrollment!.account.id, { numberMatching: true });
    const wrong = ch.numberChoices!.find((n) => n !== ch.matchNumber)!;
    expect(await answer(phone, ch, { number: String(wrong) })).toEqual({
      status: 200, body: { status: 'denied', reason: 'wrong_number' }, headers: expect.anything(),
    });
    expect(await api.challenges.get(ch.id, clock.now())).toMatchObject({ status: 'denied', resolution: { reason: 'wrong_number' } });
  });

  it('an integer still approves, and no number is still number_required', async () => {
    const { phone } = await freshPhone();
    const ch = await api.challenge(phone.enrollment!.account.id, { numberMatching: true });
    expect(await answer(phone, ch)).toMatchObject({ status: 400, body: { error: 'number_required' } });
    expect(await api.status(ch.id)).toBe('pending');
    expect(await answer(phone, ch, { number: ch.matchNumber })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it('anything else is 400 invalid_request and leaves the request pending and the TOTP step unused', async () => {
    const { phone } = await freshPhone();
    const ch = await api.challenge(phone.enrollment!.account.id, { numberMatching: true });
    const right = ch.matchNumber!;
    for (const number of [right + 0.5, `${right}.0`, `-${right}`, `+${right}`, ` ${right}`, `${right} `, `00${right}`, '', 'forty-two', null, [right]]) {
      expect(await answer(phone, ch, { number })).toMatchObject(invalidRequest);
    }
    expect(await api.status(ch.id)).toBe('pending');
    // The same step then approves: the refusals spent nothing.
    expect(await answer(phone, ch, { number: String(right) })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });
});

describe('the otp of an answer (section 4)', () => {
  it('a JSON number is 400 invalid_request (leading zeros would be lost), the request pending; the string approves', async () => {
    const { phone } = await freshPhone();
    const ch = await api.challenge(phone.enrollment!.account.id);
    const otp = phone.currentTotp();
    expect(await answer(phone, ch, { otp: Number(otp) })).toMatchObject(invalidRequest);
    expect(await answer(phone, ch, { otp: Number(`1${otp}`) })).toMatchObject(invalidRequest);
    expect(await api.status(ch.id)).toBe('pending');
    expect(await answer(phone, ch, { otp })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it.each(['approve', 'deny', 'report'])('is required on %s: without it 400 invalid_request, nothing resolved', async (decision) => {
    const { phone } = await freshPhone();
    const ch = await api.challenge(phone.enrollment!.account.id);
    expect(await answer(phone, ch, { decision, otp: undefined })).toMatchObject(invalidRequest);
    expect(await api.status(ch.id)).toBe('pending');
    expect(api.resolved.filter(([c]) => c.id === ch.id)).toEqual([]);
  });

  it('a wrong one on deny and report is 400 invalid_otp; the right one denies', async () => {
    const { phone } = await freshPhone();
    const ch = await api.challenge(phone.enrollment!.account.id);
    const wrong = wrongTotp(phone.totpSecret, clock.now());
    for (const decision of ['deny', 'report']) {
      expect(await answer(phone, ch, { decision, otp: wrong })).toMatchObject({ status: 400, body: { error: 'invalid_otp' } });
    }
    expect(await api.status(ch.id)).toBe('pending');
    expect(await answer(phone, ch, { decision: 'deny' })).toMatchObject({ status: 200, body: { status: 'denied', reason: 'denied' } });
  });
});

describe('enrollment (section 1)', () => {
  it('without a push member: 201, the device is in poll mode, lists requests and answers them', async () => {
    const { code } = await api.codes.issue(alice, 'test');
    const { keyPair, publicJwk } = await SimulatedAuthenticator.newKey();
    const res = await postJson('/api/device/enroll', { code, name: 'Poll phone', publicJwk });
    expect(res.status).toBe(201);
    const enrollment = res.body as unknown as EnrollResponse;
    // What the server always sends (src/device-api/contract.ts, EnrollResponse).
    expect(enrollment).toMatchObject({
      totp: { secret: expect.stringMatching(/^[A-Z2-7]{32}$/), algorithm: 'SHA1', digits: 6, period: 30 },
      vapidPublicKey: expect.any(String),
    });
    expect(await api.devices.get(enrollment.deviceId)).toMatchObject({ pushStatus: 'none', push: null });

    const phone = await SimulatedAuthenticator.create({
      baseUrl: api.baseUrl, issuer: enrollment.issuer, deviceId: enrollment.deviceId, totpSecret: enrollment.totp.secret,
      keyPair, enrollment, now: clock.now,
    });
    const ch = await api.challenge(alice, { numberMatching: true });
    const listed = (await phone.pending()).find((c) => c.id === ch.id);
    expect(listed).toMatchObject({ status: 'pending', numberMatching: true, numberChoices: ch.numberChoices });
    expect(await phone.respond(ch.id, 'approve', { number: ch.matchNumber! })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it('a push member that is neither null nor a subscription is 400 invalid_request, and the code still works', async () => {
    const { code } = await api.codes.issue(alice, 'test');
    const { publicJwk } = await SimulatedAuthenticator.newKey();
    for (const push of ['none', {}, false, 0]) {
      expect(await postJson('/api/device/enroll', { code, name: 'Phone', publicJwk, push })).toMatchObject(invalidRequest);
    }
    // A refused request leaves the code usable: the same code, without push, enrolls.
    expect((await postJson('/api/device/enroll', { code, name: 'Phone', publicJwk })).status).toBe(201);
    expect((await postJson('/api/device/enroll', { code, name: 'Phone', publicJwk })).body.error).toBe('invalid_enrollment_code');
  });

  // Red-team review: one already past, or given in seconds, enrolled, and its push was marked dead at the first sign-in.
  it('a push subscription whose expirationTime has passed (or is in seconds) is 400 invalid_request, and the code still works', async () => {
    const { code } = await api.codes.issue(alice, 'test');
    const { publicJwk } = await SimulatedAuthenticator.newKey();
    const keys = { p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url'), auth: Buffer.alloc(16, 2).toString('base64url') };
    for (const expirationTime of [Date.now() - 1000, Math.floor(Date.now() / 1000) + 3600]) {
      const res = await postJson('/api/device/enroll', { code, name: 'Phone', publicJwk, push: { endpoint: 'https://fcm.googleapis.com/fcm/send/x', expirationTime, keys } });
      expect(res).toMatchObject(invalidRequest);
      expect(String(res.body.error_description)).toMatch(/expirationTime has passed/);
    }
    expect((await postJson('/api/device/enroll', { code, name: 'Phone', publicJwk })).status).toBe(201);
  });

  it('takes the code in lower case and without dashes (its canonical form)', async () => {
    for (const typed of [(c: string) => c.toLowerCase(), (c: string) => c.replace(/-/g, ''), (c: string) => c.toLowerCase().replace(/-/g, '')]) {
      const { code } = await api.codes.issue(alice, 'test');
      const { publicJwk } = await SimulatedAuthenticator.newKey();
      expect((await postJson('/api/device/enroll', { code: typed(code), name: 'Phone', publicJwk, push: null })).status).toBe(201);
    }
  });
});

describe('device-authenticated requests (section 2)', () => {
  it('take aud as an array of strings that holds the audience', async () => {
    const { phone, accountId } = await freshPhone();
    const ch = await api.challenge(accountId);
    for (const aud of [[AUDIENCE], ['https://other.example/api/device', AUDIENCE]]) {
      const res = await phone.request<{ challenges: Array<{ id: string }> }>('GET', '/api/device/challenges', undefined, { aud });
      expect(res.status).toBe(200);
      expect(res.body.challenges.map((c) => c.id)).toContain(ch.id);
    }
    expect(await phone.request('PUT', '/api/device/push-subscription', { push: null }, { aud: [AUDIENCE] }))
      .toMatchObject({ status: 200, body: { pushStatus: 'none' } });
  });

  it('refuse an aud array without the audience, empty, or with a non-string: 401 invalid_token "wrong aud"', async () => {
    const { phone } = await freshPhone();
    for (const aud of [[], ['https://other.example/api/device'], [AUDIENCE, 7], [AUDIENCE, null], [[AUDIENCE]], `${AUDIENCE}/`, TEST_ISSUER]) {
      const res = await phone.request('GET', '/api/device/challenges', undefined, { aud });
      expect(res).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: 'wrong aud' } });
      expect(res.headers.get('www-authenticate')).toBe('Device');
    }
  });

  it('compare htm and htu exactly: upper-case method, the path alone', async () => {
    const { phone } = await freshPhone();
    const path = '/api/device/challenges';
    expect((await phone.request('GET', path, undefined, { htm: 'GET', htu: path })).status).toBe(200);
    const refused = [
      { htm: 'get' }, { htm: 'Get' },
      { htu: `${TEST_ISSUER}${path}` }, { htu: `${api.baseUrl}${path}` }, { htu: `${path}/` }, { htu: `${path}?x=1` }, { htu: 'api/device/challenges' },
    ];
    for (const over of refused) {
      expect(await phone.request('GET', path, undefined, over)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    }
  });

  it('an answer has no aud check: one sent, as a string or an array, changes nothing', async () => {
    const { phone, accountId } = await freshPhone();
    const ch = await api.challenge(accountId);
    expect(await answer(phone, ch, { aud: [AUDIENCE] })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });
});
