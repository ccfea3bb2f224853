import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createThrottle } from '../../src/defences/throttle-store.js';
import { ACCOUNT_POLICY, PASSCODE_POLICY } from '../../src/defences/throttle.js';

/** The account's passcode limit, as the passcode page checks it (src/signin/passcode.ts). */
const passcodeLimit = (accountId: string) => [{ key: `thr:otp:${accountId}`, policy: ACCOUNT_POLICY }];
import { totpAt } from '../../src/otp/totp.js';
import { SimulatedAuthenticator, wrongTotp as wrongCode } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, TEST_ISSUER, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * Threat (audit item 3): a device's key without its TOTP secret (a copied key, a half-cloned phone)
 * used as a TOTP oracle at the answer endpoint, outside the account's passcode limit; and forged
 * answers that only name a device id spending its answer allowance, so its real approval is
 * locked out.
 */

const clock = manualClock();
let handle: TestDb;

beforeAll(async () => { handle = await openTestPostgres('oracle'); });
afterAll(() => handle.close());
beforeEach(() => clock.advance(30_000));

describe('forged answers naming a device', () => {
  let api: DeviceApiHarness;
  beforeAll(async () => { api = await startDeviceApi(handle, clock, { responseRateLimit: { max: 3, windowMs: 60_000 } }); });
  afterAll(() => api.close());

  it('cost the device nothing: after 20 of them its own approval still goes through', async () => {
    const alice = await createAccount(handle.db, 'alice');
    const phone = await api.enroll(alice);
    const ch = await api.challenge(alice);
    const forger = await SimulatedAuthenticator.create({ baseUrl: api.baseUrl, issuer: TEST_ISSUER, deviceId: phone.deviceId, totpSecret: phone.totpSecret, now: clock.now });
    for (let i = 0; i < 20; i++) {
      const forged = await forger.respond(ch.id, 'approve', { nonce: ch.nonce });
      expect(forged).toMatchObject({ status: 400, body: { error: 'invalid_signature' } });
    }
    expect(await phone.respond(ch.id, 'approve', { nonce: ch.nonce })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });
});

describe('wrong TOTPs in signed answers', () => {
  let api: DeviceApiHarness;
  beforeAll(async () => { api = await startDeviceApi(handle, clock); });
  afterAll(() => api.close());

  it("count toward the account's passcode limit; once locked, even the right TOTP is refused and the request stays pending", async () => {
    const bob = await createAccount(handle.db, 'bob');
    const phone = await api.enroll(bob);
    const ch = await api.challenge(bob, { ttlMs: 3_600_000 });
    for (let i = 0; i < ACCOUNT_POLICY.lockoutAfter; i++) {
      const guess = await phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: wrongCode(phone.totpSecret, clock.now()) });
      expect(guess).toMatchObject({ status: 400, body: { error: 'invalid_otp' } });
      clock.advance(ACCOUNT_POLICY.maxDelayMs + 1_000); // past any growing delay: only the count matters here
    }
    // The same counter the passcode page checks: typed passcodes are locked as well.
    expect(await createThrottle(api.redis, clock.now).check(passcodeLimit(bob))).toMatchObject({ allowed: false, reason: 'lockout' });
    const right = await phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: totpAt(phone.totpSecret, clock.now()) });
    expect(right).toMatchObject({ status: 429, body: { error: 'too_many_attempts' } });
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(60);
    expect(await api.status(ch.id)).toBe('pending');

    clock.advance(ACCOUNT_POLICY.lockoutMs);
    expect(await phone.respond(ch.id, 'approve', { nonce: ch.nonce })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it('to unregister count the same way: once locked, even the right TOTP cannot remove the device', async () => {
    const erin = await createAccount(handle.db, 'erin');
    const phone = await api.enroll(erin);
    for (let i = 0; i < ACCOUNT_POLICY.lockoutAfter; i++) {
      const guess = await phone.unregister(i % 2 === 0 ? { otp: null } : { otp: wrongCode(phone.totpSecret, clock.now()) });
      expect(guess).toMatchObject({ status: 400, body: { error: 'invalid_otp' } });
      clock.advance(ACCOUNT_POLICY.maxDelayMs + 1_000);
    }
    expect(await createThrottle(api.redis, clock.now).check(passcodeLimit(erin))).toMatchObject({ allowed: false, reason: 'lockout' });
    expect(await phone.unregister({ otp: totpAt(phone.totpSecret, clock.now()) })).toMatchObject({ status: 429, body: { error: 'too_many_attempts' } });
    expect((await api.devices.get(phone.deviceId))!.status).toBe('active');
  });

  it('paced so no lockout comes, a device key still gets 100 TOTP checks in a row at most; a right one ends a run', async () => {
    const gina = await createAccount(handle.db, 'gina');
    const phone = await api.enroll(gina);
    const ch = await api.challenge(gina, { ttlMs: 6 * 3_600_000 });
    const guessPaced = async (i: number) => {
      const r = await phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: wrongCode(phone.totpSecret, clock.now()) });
      // Nine past each delay, then a pause past the window, which forgets those nine, never the run.
      clock.advance(ACCOUNT_POLICY.maxDelayMs + 1_000 + (i % 9 === 8 ? ACCOUNT_POLICY.windowMs : 0));
      return r;
    };
    for (let i = 0; i < PASSCODE_POLICY.capAfter!; i++) expect([i, (await guessPaced(i)).status]).toEqual([i, 400]);
    const right = await phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: totpAt(phone.totpSecret, clock.now()) });
    expect(right).toMatchObject({ status: 429, body: { error: 'too_many_attempts' } });
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(29 * 86_400);
    expect(await api.status(ch.id)).toBe('pending');
    // The typed passcodes' run counted them too.
    expect(await createThrottle(api.redis, clock.now).check([{ key: `thr:otp:${gina}`, policy: PASSCODE_POLICY }])).toMatchObject({ allowed: false, reason: 'capped' });

    // Another account: 60 wrong, the owner's right answer, 60 wrong: no cap on the devices' run.
    const hugo = await createAccount(handle.db, 'hugo');
    const own = await api.enroll(hugo);
    const first = await api.challenge(hugo, { ttlMs: 6 * 3_600_000 });
    const paced = async (c: { id: string; nonce: string }, i: number) => {
      const r = await own.respond(c.id, 'approve', { nonce: c.nonce, otp: wrongCode(own.totpSecret, clock.now()) });
      clock.advance(ACCOUNT_POLICY.maxDelayMs + 1_000 + (i % 9 === 8 ? ACCOUNT_POLICY.windowMs : 0));
      return r.status;
    };
    for (let i = 0; i < 60; i++) expect([i, await paced(first, i)]).toEqual([i, 400]);
    clock.advance(ACCOUNT_POLICY.windowMs + 1_000);
    expect(await own.respond(first.id, 'approve', { nonce: first.nonce })).toMatchObject({ status: 200, body: { status: 'approved' } });
    const second = await api.challenge(hugo, { ttlMs: 6 * 3_600_000 });
    for (let i = 0; i < 60; i++) expect([i, await paced(second, i)]).toEqual([i, 400]);
    clock.advance(ACCOUNT_POLICY.windowMs + 1_000);
    expect(await own.respond(second.id, 'approve', { nonce: second.nonce })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  // Red-team: an answer refused for another reason gives its reservation back; first in a window it
  // took the key's count to 0, and the key was deleted with the run: nine guesses a window, for ever.
  it('a refused answer first in each window gives back its own count, never the run: 100 TOTP checks at most', async () => {
    const ida = await createAccount(handle.db, 'ida');
    const phone = await api.enroll(ida);
    const ch = await api.challenge(ida, { ttlMs: 12 * 3_600_000 });
    let checked = 0;
    for (let win = 0; win < 13; win++) {
      const bogus = await phone.respond('A'.repeat(22), 'approve', { nonce: 'x', otp: wrongCode(phone.totpSecret, clock.now()) });
      expect([404, 429]).toContain(bogus.status);
      for (let i = 0; i < 9; i++) {
        const r = await phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: wrongCode(phone.totpSecret, clock.now()) });
        if (r.status === 400) checked++;
        else expect(r).toMatchObject({ status: 429, body: { error: 'too_many_attempts' } });
        clock.advance(ACCOUNT_POLICY.maxDelayMs + 1_000);
      }
      clock.advance(ACCOUNT_POLICY.windowMs);
    }
    expect(checked).toBeLessThanOrEqual(PASSCODE_POLICY.capAfter!);
    const right = await phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: totpAt(phone.totpSecret, clock.now()) });
    expect(right).toMatchObject({ status: 429, body: { error: 'too_many_attempts' } });
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(29 * 86_400);
    expect(await api.status(ch.id)).toBe('pending');
  });

  it('while delayed, answers wait like typed passcodes do (429 with Retry-After)', async () => {
    const carol = await createAccount(handle.db, 'carol');
    const phone = await api.enroll(carol);
    const ch = await api.challenge(carol);
    const statuses: number[] = [];
    for (let i = 0; i < ACCOUNT_POLICY.freeFailures + 1; i++) {
      statuses.push((await phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: wrongCode(phone.totpSecret, clock.now()) })).status);
    }
    expect(statuses).toEqual([...Array(ACCOUNT_POLICY.freeFailures).fill(400), 429]);
    expect(await api.status(ch.id)).toBe('pending');
  });
});

describe('wrong TOTPs sent in parallel by a device key', () => {
  let api: DeviceApiHarness;
  beforeAll(async () => { api = await startDeviceApi(handle, clock, { responseRateLimit: { max: 1000, windowMs: 60_000 } }); });
  afterAll(() => api.close());

  it('200 guesses at once to unregister: only the free ones are checked, the rest wait (429), the device stays', async () => {
    const dave = await createAccount(handle.db, 'dave');
    const phone = await api.enroll(dave);
    const guesses = await Promise.all(Array.from({ length: 200 }, () =>
      phone.unregister({ otp: wrongCode(phone.totpSecret, clock.now()) })));
    const checked = guesses.filter((g) => g.status === 400);
    expect(checked.every((g) => (g.body as { error: string }).error === 'invalid_otp')).toBe(true);
    // Reserved before the check (one Redis script decides and counts): never more than the free
    // failures of ACCOUNT_POLICY at once, however many arrive in the same instant.
    expect(checked.length).toBeLessThanOrEqual(ACCOUNT_POLICY.freeFailures);
    expect(guesses.filter((g) => g.status === 429)).toHaveLength(200 - checked.length);
    expect((await api.devices.get(phone.deviceId))!.status).toBe('active');
  });

  it('200 signed answers with guessed TOTPs at once: at most the free ones are checked, the request stays pending', async () => {
    const frank = await createAccount(handle.db, 'frank');
    const phone = await api.enroll(frank);
    const ch = await api.challenge(frank, { ttlMs: 3_600_000 });
    const answers = await Promise.all(Array.from({ length: 200 }, () =>
      phone.respond(ch.id, 'approve', { nonce: ch.nonce, otp: wrongCode(phone.totpSecret, clock.now()) })));
    expect(answers.filter((a) => a.status === 400).length).toBeLessThanOrEqual(ACCOUNT_POLICY.freeFailures);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(0);
    expect(await api.status(ch.id)).toBe('pending');
  });
});
