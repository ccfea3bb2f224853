import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, TEST_ISSUER, type DeviceApiHarness } from '../support/devices-api.js';
import { Cred } from '../support/raw-webauthn.js';
import { webauthnChallengeFor } from '../../src/approval/verify-webauthn.js';

/**
 * Enrollment under DEVICE_UNLOCK=webauthn: the credential's key must be one an approval can rely on
 * (docs/device-api.md 1a: an ES256 or RS256 key). Red-team (WebAuthn round): the library checked the
 * COSE alg label only, and an RSA key with exponent 1 enrolled: its "signature" is the padded hash,
 * which anyone computes, so a device's approvals carried `user` (user verification) for free. A
 * 512-bit modulus, a point off P-256, RSA parameters labelled ES256, and a packed self-attestation
 * signed with another algorithm than the key's enrolled too.
 */
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;

beforeAll(async () => {
  handle = await openTestPostgres('webauthnkeys');
  api = await startDeviceApi(handle, clock, { policy: async () => ({ numberMatching: false, unlock: 'webauthn', pollIntervalSeconds: 5 }) });
});
afterAll(async () => { await api.close(); await handle.close(); });

type Opts = { challenge: string; rp: { id?: string } };
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${api.baseUrl}/api/device${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
};
async function enroll(code: string, make: (o: Opts) => unknown) {
  const options = await post('/enroll/webauthn-options', { code });
  expect(options.status).toBe(200);
  const { publicJwk } = await SimulatedAuthenticator.newKey();
  return post('/enroll', { code, name: 'Phone', publicJwk, push: null, webauthn: make((options.body as { publicKey: Opts }).publicKey) });
}
const cose = (entries: [number, number | Uint8Array][]) => isoCBOR.encode(new Map<number, number | Uint8Array>(entries));
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
/** Client data as a browser writes it for a ceremony inside a cross-origin iframe (W3C WebAuthn Level 3, 5.8.1). */
const framed = (type: string, challenge: string, extra: Record<string, unknown>) =>
  Buffer.from(JSON.stringify({ type, challenge, origin: new URL(TEST_ISSUER).origin, ...extra }));

describe('WebAuthn registration: the credential key', () => {
  const ec = new Cred(TEST_ISSUER);
  const refused: Record<string, (o: Opts) => unknown> = {
    'RSA exponent 1 (a signature anyone computes)': (o) => ec.registration(o, { cose: cose([[1, 3], [3, -257], [-1, bytes(256, 0xcf)], [-2, new Uint8Array([1])]]) }),
    'RSA modulus of 512 bits': (o) => new Cred(TEST_ISSUER, 'rsa', 512).registration(o),
    'RSA modulus of 8 bits': (o) => ec.registration(o, { cose: cose([[1, 3], [3, -257], [-1, new Uint8Array([0xd])], [-2, new Uint8Array([1, 0, 1])]]) }),
    'a point off P-256': (o) => ec.registration(o, { cose: cose([[1, 2], [3, -7], [-1, 1], [-2, bytes(32, 1)], [-3, bytes(32, 1)]]) }),
    'EC coordinates of 1 byte': (o) => ec.registration(o, { cose: cose([[1, 2], [3, -7], [-1, 1], [-2, new Uint8Array([1])], [-3, new Uint8Array([2])]]) }),
    'ES256 on RSA parameters': (o) => ec.registration(o, { cose: cose([[1, 3], [3, -7], [-1, bytes(256, 0xff)], [-2, new Uint8Array([1, 0, 1])]]) }),
    'ES256 on a P-384 curve': (o) => ec.registration(o, { cose: cose([[1, 2], [3, -7], [-1, 2], [-2, bytes(48, 3)], [-3, bytes(48, 4)]]) }),
    'a packed self-attestation signed RS256 over an ES256 key': (o) => new Cred(TEST_ISSUER).registration(o, { fmt: 'packed-wrongalg' }),
    'a ceremony run in a frame of another site (crossOrigin: true)': (o) => ec.registration(o, { clientData: framed('webauthn.create', o.challenge, { crossOrigin: true, topOrigin: 'https://evil.example' }) }),
    'a ceremony naming a top origin': (o) => ec.registration(o, { clientData: framed('webauthn.create', o.challenge, { crossOrigin: false, topOrigin: 'https://evil.example' }) }),
  };

  it.each(Object.keys(refused))('refuses %s: 400 webauthn_registration_failed, the code still usable', async (name) => {
    const account = await createAccount(handle.db, `wk-${Object.keys(refused).indexOf(name)}`);
    const { code } = await api.codes.issue(account, 'test');
    const r = await enroll(code, refused[name]!);
    expect({ status: r.status, error: r.body.error }).toEqual({ status: 400, error: 'webauthn_registration_failed' });
    expect(await handle.db.query('SELECT 1 FROM devices WHERE account_id = $1', [account])).toHaveLength(0);
    expect((await enroll(code, (o) => new Cred(TEST_ISSUER).registration(o))).status).toBe(201);
  });

  it.each([
    ['an ES256 key, attestation none', (o: Opts) => new Cred(TEST_ISSUER).registration(o)],
    ['an ES256 key, packed self-attestation', (o: Opts) => new Cred(TEST_ISSUER).registration(o, { fmt: 'packed-self' })],
    ['an RS256 key of 2048 bits (Windows Hello)', (o: Opts) => new Cred(TEST_ISSUER, 'rsa', 2048).registration(o)],
  ])('enrolls %s', async (name, make) => {
    const account = await createAccount(handle.db, `wk-ok-${name.length}-${name.slice(3, 8)}`);
    const { code } = await api.codes.issue(account, 'test');
    expect((await enroll(code, make)).status).toBe(201);
  });
});

describe('WebAuthn approvals made in a frame of another site', () => {
  // The library takes `crossOrigin: true`; our pages and the PWA refuse to be framed, so such an
  // assertion was not made by them: a page that framed the PWA must not get a user-verified approval.
  it('refuses an assertion whose client data says crossOrigin or names a top origin; the push stays pending and the real one approves', async () => {
    const account = await createAccount(handle.db, 'wk-framed');
    const cred = new Cred(TEST_ISSUER);
    const phone = await SimulatedAuthenticator.enroll(api.baseUrl, (await api.codes.issue(account, 'test')).code, { webauthn: { create: (o) => cred.registration(o as Opts) }, now: clock.now });
    clock.advance(30_000);
    const ch = await api.challenge(account);
    const challenge = webauthnChallengeFor(ch.id, ch.nonce);
    for (const extra of [{ crossOrigin: true }, { crossOrigin: true, topOrigin: 'https://evil.example' }, { crossOrigin: false, topOrigin: 'https://evil.example' }]) {
      const r = await phone.respond(ch.id, 'approve', { extra: { webauthn: cred.assert(challenge, { clientDataObj: { type: 'webauthn.get', challenge, origin: new URL(TEST_ISSUER).origin, ...extra } }) } });
      expect(r).toMatchObject({ status: 400, body: { error: 'user_verification_failed' } });
      expect(await api.status(ch.id)).toBe('pending');
    }
    expect(await phone.respond(ch.id, 'approve', { extra: { webauthn: cred.assert(challenge) } })).toMatchObject({ status: 200, body: { status: 'approved' } });
  });
});
