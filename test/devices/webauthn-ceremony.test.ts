import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { webauthnChallengeFor } from '../../src/approval/verify-webauthn.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, TEST_ISSUER, type DeviceApiHarness } from '../support/devices-api.js';
import { SoftwareWebAuthn } from '../support/webauthn-authenticator.js';

/**
 * Threat: under DEVICE_UNLOCK=webauthn, enrollment used to take whatever public key the app sent,
 * so nothing proved that a user-verifying authenticator held it, and an assertion's signature
 * counter was never looked at, so a cloned authenticator went unnoticed. Now the server runs a
 * registration ceremony bound to the enrollment code (@simplewebauthn/server), records the counter
 * and backup flags, and refuses a counter that does not grow. A failed ceremony keeps the code.
 */
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;

beforeAll(async () => {
  handle = await openTestPostgres('webauthn');
  api = await startDeviceApi(handle, clock, { policy: async () => ({ numberMatching: false, unlock: 'webauthn', pollIntervalSeconds: 5 }) });
});
afterAll(async () => { await api.close(); await handle.close(); });

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${api.baseUrl}/api/device${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const storedCredential = async (deviceId: string) =>
  ((await handle.db.query<{ webauthn: Record<string, unknown> | string }>('SELECT webauthn FROM devices WHERE id = $1', [deviceId]))[0]!.webauthn);
const asObject = (v: Record<string, unknown> | string) => (typeof v === 'string' ? JSON.parse(v) as Record<string, unknown> : v);

describe('registration ceremony at enrollment', () => {
  it('gives options only for a usable code', async () => {
    expect(await post('/enroll/webauthn-options', { code: 'ABCD-EFGH-JKMN-PQRS' })).toMatchObject({ status: 400, body: { error: 'invalid_enrollment_code' } });
    const alice = await createAccount(handle.db, 'alice');
    const { code } = await api.codes.issue(alice, 'test');
    const { body } = await post('/enroll/webauthn-options', { code });
    expect(body).toMatchObject({ publicKey: { rp: { id: 'idp.example.test' }, user: { name: 'alice' }, attestation: 'none' } });
  });

  it('refuses a registration made for another code, or the old key-only form, and keeps the code', async () => {
    const bob = await createAccount(handle.db, 'bob');
    const { code } = await api.codes.issue(bob, 'test');
    const other = await api.codes.issue(bob, 'test');
    const sw = new SoftwareWebAuthn(TEST_ISSUER);
    const { body: options } = await post('/enroll/webauthn-options', { code: other.code });
    const wrong = await SimulatedAuthenticator.enroll(api.baseUrl, code, { webauthn: { create: () => sw.create((options as { publicKey: { challenge: string; rp: { id?: string } } }).publicKey) } })
      .catch((err: { status: number; body: unknown }) => err);
    expect(wrong).toMatchObject({ status: 400, body: { error: 'webauthn_registration_failed' } });
    const legacy = { credentialId: sw.credentialId, publicKeySpki: 'MFkw', alg: -7 };
    const old = await SimulatedAuthenticator.enroll(api.baseUrl, code, { webauthn: { create: () => legacy } }).catch((err: { status: number }) => err);
    expect(old).toMatchObject({ status: 400 });
    const phone = await SimulatedAuthenticator.enroll(api.baseUrl, code, { webauthn: sw, now: clock.now });
    expect(asObject(await storedCredential(phone.deviceId))).toMatchObject({ credentialId: sw.credentialId, counter: 0, backupEligible: false, backedUp: false });
  });
});

describe('assertions: the counter is stored and must grow', () => {
  it('records the counter of an approval and refuses an assertion whose counter did not grow (a clone)', async () => {
    const carol = await createAccount(handle.db, 'carol');
    const sw = new SoftwareWebAuthn(TEST_ISSUER);
    const phone = await SimulatedAuthenticator.enroll(api.baseUrl, (await api.codes.issue(carol, 'test')).code, { webauthn: sw, now: clock.now });

    const first = await api.challenge(carol);
    expect(await phone.respond(first.id, 'approve', { extra: { webauthn: sw.assert(webauthnChallengeFor(first.id, first.nonce), { counter: 10 }) } }))
      .toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(asObject(await storedCredential(phone.deviceId))).toMatchObject({ counter: 10 });

    clock.advance(30_000);
    const second = await api.challenge(carol);
    const clone = await phone.respond(second.id, 'approve', { extra: { webauthn: sw.assert(webauthnChallengeFor(second.id, second.nonce), { counter: 10 }) } });
    expect(clone).toMatchObject({ status: 400, body: { error: 'user_verification_failed' } });
    expect(await api.status(second.id)).toBe('pending');
    expect(await phone.respond(second.id, 'approve', { extra: { webauthn: sw.assert(webauthnChallengeFor(second.id, second.nonce), { counter: 11 }) } }))
      .toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it('still verifies a credential stored before the ceremony (SPKI and alg), and starts counting', async () => {
    const dave = await createAccount(handle.db, 'dave');
    const sw = new SoftwareWebAuthn(TEST_ISSUER);
    const phone = await SimulatedAuthenticator.enroll(api.baseUrl, (await api.codes.issue(dave, 'test')).code, { webauthn: sw, now: clock.now });
    const spki = sw.publicKeySpki();
    await handle.db.query('UPDATE devices SET webauthn = $2::jsonb WHERE id = $1', [phone.deviceId, JSON.stringify({ credentialId: sw.credentialId, publicKeySpki: spki, alg: -7 })]);
    clock.advance(30_000);
    const ch = await api.challenge(dave);
    expect(await phone.respond(ch.id, 'approve', { extra: { webauthn: sw.assert(webauthnChallengeFor(ch.id, ch.nonce), { counter: 3 }) } }))
      .toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(asObject(await storedCredential(phone.deviceId))).toMatchObject({ publicKeySpki: spki, counter: 3 });
  });
});
