import { randomBytes } from 'node:crypto';
import type { RegistrationOptionsResponse } from '../../src/device-api/contract.js';
import { SoftwareWebAuthn } from '../support/webauthn-authenticator.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enrollDecision } from '../../src/devices/enrollment.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, fakePublicJwk, fakePushSubscription, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, TEST_ISSUER, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * Threat (audit items 4, 9, 10): an enrollment the server refuses must not use up the user's
 * one-time code (a refusal for a missing WebAuthn credential, a full account, or a malformed push
 * endpoint left the user without a code, or answered 500), and an account must not collect
 * authenticators without bound.
 */
const clock = manualClock();
let handle: TestDb;

beforeAll(async () => { handle = await openTestPostgres('enrkeep'); });
afterAll(() => handle.close());

async function enrollRaw(api: DeviceApiHarness, over: Record<string, unknown>) {
  const body = JSON.stringify({ code: 'x', name: 'Phone', publicJwk: await fakePublicJwk(), push: null, ...over });
  const res = await fetch(`${api.baseUrl}/api/device/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const deviceRows = async (accountId: string) =>
  (await handle.db.query('SELECT id FROM devices WHERE account_id = $1', [accountId])).length;

describe('enrollDecision', () => {
  const ok = { account: { disabled: false }, unlock: 'none', hasWebAuthn: false, activeDevices: 0, maxDevices: 5 } as const;
  it.each<[string, Partial<Parameters<typeof enrollDecision>[0]>, ReturnType<typeof enrollDecision>]>([
    ['a first device', {}, null],
    ['no account', { account: null }, 'invalid_enrollment_code'],
    ['a disabled account', { account: { disabled: true } }, 'invalid_enrollment_code'],
    ['WebAuthn policy without a credential', { unlock: 'webauthn' }, 'webauthn_required'],
    ['WebAuthn policy with a credential', { unlock: 'webauthn', hasWebAuthn: true }, null],
    ['one below the cap', { activeDevices: 4 }, null],
    ['at the cap', { activeDevices: 5 }, 'device_limit_reached'],
  ])('%s', (_name, over, expected) => {
    expect(enrollDecision({ ...ok, ...over })).toBe(expected);
  });
});

describe('a refused enrollment keeps the code', () => {
  it('webauthn_required: the code still enrolls once the credential is sent', async () => {
    const api = await startDeviceApi(handle, clock, { policy: async () => ({ numberMatching: true, unlock: 'webauthn', pollIntervalSeconds: 5 }) });
    try {
      const alice = await createAccount(handle.db, 'alice');
      const { code } = await api.codes.issue(alice, 'test');
      expect(await enrollRaw(api, { code })).toMatchObject({ status: 400, body: { error: 'webauthn_required' } });
      const options = await fetch(`${api.baseUrl}/api/device/enroll/webauthn-options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
      const { publicKey } = (await options.json()) as RegistrationOptionsResponse;
      const sw = new SoftwareWebAuthn(TEST_ISSUER);
      // A ceremony that fails (no user verification) is refused and leaves the code usable too.
      expect(await enrollRaw(api, { code, webauthn: sw.create(publicKey, { flags: 0x41 }) })).toMatchObject({ status: 400, body: { error: 'webauthn_registration_failed' } });
      expect(await enrollRaw(api, { code, webauthn: sw.create(publicKey) })).toMatchObject({ status: 201, body: { policy: { unlock: 'webauthn' } } });
      expect(await deviceRows(alice)).toBe(1);
    } finally {
      await api.close();
    }
  });

  it.each([
    ['a NUL', 'https://push.example.test/sub/a\u0000b'],
    ['a lone surrogate', 'https://push.example.test/sub/a\ud800b'],
    ['a non-ASCII character', 'https://push.example.test/sub/é'],
  ])('a push endpoint with %s: 400 invalid_request, nothing stored, the code still works', async (_what, endpoint) => {
    const api = await startDeviceApi(handle, clock);
    try {
      const bob = await createAccount(handle.db, `bob${randomBytes(3).toString('hex')}`);
      const { code } = await api.codes.issue(bob, 'test');
      const push = { ...(await fakePushSubscription()), endpoint };
      expect(await enrollRaw(api, { code, push })).toEqual({ status: 400, body: { error: 'invalid_request', error_description: expect.stringContaining('push.endpoint') } });
      expect(await enrollRaw(api, { code, name: 'x\ud800y' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(await deviceRows(bob)).toBe(0);
      await expect(SimulatedAuthenticator.enroll(api.baseUrl, code, { now: clock.now })).resolves.toBeInstanceOf(SimulatedAuthenticator);
      // The same garbage in a later push update is refused the same way.
      const phone = await SimulatedAuthenticator.enroll(api.baseUrl, (await api.codes.issue(bob, 'test')).code, { now: clock.now });
      expect(await phone.updatePush(push)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    } finally {
      await api.close();
    }
  });
});

describe('MAX_DEVICES_PER_ACCOUNT', () => {
  it('refuses an enrollment past the cap with 409 device_limit_reached, keeping the code for after a revocation', async () => {
    const api = await startDeviceApi(handle, clock, { maxDevicesPerAccount: 2 });
    try {
      const carol = await createAccount(handle.db, 'carol');
      const first = await api.enroll(carol);
      await api.enroll(carol);
      const { code } = await api.codes.issue(carol, 'test');
      expect(await enrollRaw(api, { code })).toMatchObject({ status: 409, body: { error: 'device_limit_reached' } });
      expect(await deviceRows(carol)).toBe(2);
      await api.devices.revoke(first.deviceId);
      expect(await enrollRaw(api, { code })).toMatchObject({ status: 201 });
    } finally {
      await api.close();
    }
  });

  it('holds under a race: 8 parallel enrollments with 8 codes give exactly 3 devices', async () => {
    const api = await startDeviceApi(handle, clock, { maxDevicesPerAccount: 3 });
    try {
      const dave = await createAccount(handle.db, 'dave');
      // The first device first, confirmed by its phone: until a device is confirmed, each enrollment
      // voids the codes issued before it (pre-device-secrets.test.ts, pending-device.test.ts).
      expect((await (await api.enroll(dave, 'First')).request('GET', '/api/device/challenges')).status).toBe(200);
      const codes = await Promise.all(Array.from({ length: 8 }, async () => (await api.codes.issue(dave, 'test')).code));
      const results = await Promise.all(codes.map((code) => enrollRaw(api, { code })));
      expect(results.filter((r) => r.status === 201)).toHaveLength(2);
      expect(results.filter((r) => r.status === 409 && r.body.error === 'device_limit_reached')).toHaveLength(6);
      expect(await api.devices.countActive(dave)).toBe(3);
      // The six refused codes were not used up.
      const unused = await handle.db.query('SELECT 1 FROM enrollment_codes WHERE account_id = $1 AND used_at IS NULL', [dave]);
      expect(unused).toHaveLength(6);
    } finally {
      await api.close();
    }
  });
});
