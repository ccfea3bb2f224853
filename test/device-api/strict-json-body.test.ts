import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createECDH, generateKeyPairSync, randomBytes } from 'node:crypto';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * docs/device-api.md, "Errors": malformed input of any kind (bytes that are not UTF-8, a body
 * nested past any shape the API defines) is a 4xx that changes nothing and never uses up an
 * enrollment code or a TOTP step. Red-team (device API round):
 * - the body was decoded loosely, bytes that are not UTF-8 became U+FFFD: an enrollment named
 *   "Pixel \uFFFD" was stored (201) and its code used up;
 * - 7,000 nested brackets in `webauthn.clientExtensionResults` (a body under 16 KB) overflowed
 *   the stack of a recursive size check: 500 on enroll and on an answer, before any authentication.
 */
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;
let users = 0;

beforeAll(async () => {
  handle = await openTestPostgres('strictbody');
  api = await startDeviceApi(handle, clock);
});
afterAll(async () => { await api.close(); await handle.close(); });
// Each test starts at the beginning of a TOTP step, so an answer's step is the one the test means.
beforeEach(() => clock.advance(30_000 - (clock.now() % 30_000)));

const NOT_UTF8: Array<[string, number[]]> = [
  ['FF FE', [0xff, 0xfe]],
  ['CESU-8 lone surrogate ED A0 80', [0xed, 0xa0, 0x80]],
  ['a lone latin-1 E9', [0xe9]],
];

/** `json` with the placeholder string "XX" replaced by raw `bytes` (a JSON encoder could not write them). */
function withBytes(json: string, bytes: number[]): Buffer {
  const at = json.indexOf('XX');
  return Buffer.concat([Buffer.from(json.slice(0, at)), Buffer.from(bytes), Buffer.from(json.slice(at + 2))]);
}

async function post(path: string, body: Buffer | string, method = 'POST', headers: Record<string, string> = {}) {
  const res = await fetch(`${api.baseUrl}${path}`, { method, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: body as BodyInit });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A fresh account with an unused enrollment code. */
async function accountWithCode() {
  const accountId = await createAccount(handle.db, `user${++users}`);
  const { code } = await api.codes.issue(accountId, 'test');
  return { accountId, code };
}

/** A P-256 public JWK as an app sends it. */
function publicJwk() {
  const { kty, crv, x, y } = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  return { kty, crv, x, y };
}

/**
 * What a client can observe of the enrollment code: nothing stored, and the code still enrolls a
 * phone, whose name outside ASCII is kept (the strict reader refuses bytes, not characters).
 */
async function expectCodeUnused(accountId: string, code: string) {
  expect(await api.devices.listByAccount(accountId)).toEqual([]);
  await SimulatedAuthenticator.enroll(api.baseUrl, code, { now: clock.now, name: 'Téléphone 📱' });
  expect((await api.devices.listByAccount(accountId)).map((d) => d.name)).toEqual(['Téléphone 📱']);
}

/** A phone of a fresh account, confirmed, with one pending request to it. */
async function phoneWithRequest() {
  const { accountId, code } = await accountWithCode();
  const phone = await SimulatedAuthenticator.enroll(api.baseUrl, code, { now: clock.now, confirm: true });
  return { phone, accountId, ch: await api.challenge(accountId) };
}

/** `depth` nested arrays, as JSON text. */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('a body that is not UTF-8 is 400 invalid_request and changes nothing', () => {
  it.each(NOT_UTF8)('POST /api/device/enroll whose name holds %s: no device, the code still usable', async (_what, bytes) => {
    const { accountId, code } = await accountWithCode();
    const body = withBytes(JSON.stringify({ code, name: 'Pixel XX', publicJwk: publicJwk(), push: null }), bytes);
    expect(await post('/api/device/enroll', body)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    await expectCodeUnused(accountId, code);
  });

  it.each(NOT_UTF8)('POST .../response carrying %s in a member nobody reads: refused, the request pending, its TOTP step unused', async (_what, bytes) => {
    const { phone, ch } = await phoneWithRequest();
    const jws = await phone.signResponse({ cid: ch.id, nonce: ch.nonce, decision: 'approve', otp: phone.currentTotp(), iat: Math.floor(clock.now() / 1000) });
    const body = withBytes(JSON.stringify({ response: jws, note: 'XX' }), bytes);
    expect(await post(`/api/device/challenges/${ch.id}/response`, body)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await api.status(ch.id)).toBe('pending');
    // The same answer, sent as UTF-8, is taken: the refusal used up neither the request nor the step.
    expect(await phone.sendResponse(ch.id, jws)).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it.each(NOT_UTF8)('PUT /api/device/push-subscription carrying %s: refused, the subscription unchanged', async (_what, bytes) => {
    const { phone, accountId } = await phoneWithRequest();
    const path = '/api/device/push-subscription';
    const push = { endpoint: 'https://push.example.test/send/abc', keys: { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
    const body = withBytes(JSON.stringify({ push, note: 'XX' }), bytes);
    const res = await post(path, body, 'PUT', { authorization: await phone.authHeader('PUT', path) });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect((await api.devices.listByAccount(accountId)).map((d) => d.push)).toEqual([null]);
  });
});

describe('a body nested deeper than any shape of the API is 400 invalid_request, never a 500', () => {
  const DEEP = 7000;

  it('POST /api/device/enroll with a deep webauthn.clientExtensionResults (under 16 KB): no device, the code still usable', async () => {
    const { accountId, code } = await accountWithCode();
    const webauthn = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AAAA', attestationObject: 'AAAA' }, clientExtensionResults: { a: 'DEEP' } };
    const body = JSON.stringify({ code, name: 'Pixel', publicJwk: publicJwk(), push: null, webauthn }).replace('"DEEP"', nested(DEEP));
    expect(body.length).toBeLessThan(16 * 1024);
    expect(await post('/api/device/enroll', body)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    await expectCodeUnused(accountId, code);
  });

  it('POST .../response with a deep webauthn.clientExtensionResults: refused, the request pending', async () => {
    const { phone, ch } = await phoneWithRequest();
    const jws = await phone.signResponse({ cid: ch.id, nonce: ch.nonce, decision: 'approve', otp: phone.currentTotp(), iat: Math.floor(clock.now() / 1000) });
    const webauthn = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' }, clientExtensionResults: { a: 'DEEP' } };
    const body = JSON.stringify({ response: jws, webauthn }).replace('"DEEP"', nested(DEEP));
    expect(await post(`/api/device/challenges/${ch.id}/response`, body)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await api.status(ch.id)).toBe('pending');
    expect(await phone.sendResponse(ch.id, jws)).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it('33 levels anywhere in the body are refused, 32 are read (docs: at most 32 levels)', async () => {
    const { accountId, code } = await accountWithCode();
    const enroll = (depth: number) => JSON.stringify({ code, name: 'Pixel', publicJwk: publicJwk(), push: null, extra: 'X' }).replace('"X"', nested(depth - 1));
    expect(await post('/api/device/enroll', enroll(33))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await api.devices.listByAccount(accountId)).toEqual([]);
    expect(await post('/api/device/enroll', enroll(32))).toMatchObject({ status: 201 });
  });
});
