import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, TEST_ENGINES, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * Threat (audit item 9): a NUL or a lone surrogate in what a device sends (the `kid` inside a
 * `Device` token or an answer, the Authorization header's bytes) reached PostgreSQL and answered
 * 500. Each must be a 4xx that changes nothing, and the API keeps serving.
 */
describe.each(TEST_ENGINES)('on %s', (_engine, open) => {
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;
let phone: SimulatedAuthenticator;

beforeAll(async () => {
  handle = await open();
  api = await startDeviceApi(handle, clock);
  phone = await api.enroll(await createAccount(handle.db, 'alice'));
});
afterAll(async () => {
  await api.close();
  await handle.close();
});

const snapshot = async () => handle.db.query('SELECT * FROM devices ORDER BY id');

/**
 * A JWS signed by the phone's key whose protected header names `kid`, written with JSON escapes
 * (`\\u0000`, `\\ud800`), so the server's JSON parser, not the encoder here, makes the NUL or the
 * lone surrogate (a UTF-8 encoder would have replaced a lone surrogate with U+FFFD).
 */
async function withKid(kid: string, typ: string, claims: object): Promise<string> {
  const escaped = [...kid].map((c) => (/^[\x20-\x7e]$/.test(c) && c !== '"' && c !== '\\' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)).join('');
  const header = Buffer.from(`{"alg":"ES256","kid":"${escaped}","typ":"${typ}"}`).toString('base64url');
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const sig = await globalThis.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, phone.privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

/** Sends raw bytes as the Authorization header (fetch would refuse them client-side). */
function rawRequest(header: Buffer): Promise<string> {
  const { port } = new URL(api.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.end(Buffer.concat([Buffer.from('GET /api/device/challenges HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Device '), header, Buffer.from('\r\n\r\n')]));
    });
    let data = '';
    socket.on('data', (chunk) => { data += chunk.toString('latin1'); });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('hostile device ids', () => {
  it.each([['a NUL', 'dev_\u0000x'], ['a lone surrogate', 'dev_\ud800x'], ['a space', 'dev x']])('a Device token whose kid holds %s: 401 invalid_token (no device id looks like that), nothing changed', async (_what, kid) => {
    const before = await snapshot();
    const iat = Math.floor(clock.now() / 1000);
    const jws = await withKid(kid, 'device-auth+jwt', { iss: kid, aud: 'x', htm: 'GET', htu: '/api/device/challenges', iat, exp: iat + 60, jti: 'j'.repeat(20) });
    const res = await fetch(`${api.baseUrl}/api/device/challenges`, { headers: { authorization: `Device ${jws}` } });
    expect(res.status).toBe(401);
    // A kid that is not printable ASCII never reaches the database: the token is malformed.
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
    expect(await snapshot()).toEqual(before);
  });

  it.each([['a NUL', 'dev_\u0000x'], ['a lone surrogate', 'dev_\ud800x']])('an answer whose kid holds %s: 400 invalid_request (a malformed JWS header), the request pending', async (_what, kid) => {
    const before = await snapshot();
    const ch = await api.challenge(phone.enrollment!.account.id);
    const jws = await withKid(kid, 'pushotp-response+jwt', { cid: ch.id, nonce: ch.nonce, decision: 'approve', otp: phone.currentTotp(), iat: Math.floor(clock.now() / 1000) });
    const res = await phone.sendResponse(ch.id, jws);
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await api.status(ch.id)).toBe('pending');
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['a NUL byte', Buffer.from([0x61, 0x00, 0x62])],
    ['the UTF-8 bytes of a lone surrogate', Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62])],
    ['invalid UTF-8', Buffer.from([0xff, 0xfe])],
  ])('an Authorization header with %s: a 4xx, and the API still serves', async (_what, bytes) => {
    const before = await snapshot();
    const answer = await rawRequest(bytes);
    expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(await snapshot()).toEqual(before);
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
  });
});

describe('the Device scheme', () => {
  it('is case-insensitive (RFC 9110 11.1)', async () => {
    for (const scheme of ['device', 'DEVICE']) {
      const header = (await phone.authHeader('GET', '/api/device/challenges')).replace(/^Device/, scheme);
      const res = await fetch(`${api.baseUrl}/api/device/challenges`, { headers: { authorization: header } });
      expect(res.status).toBe(200);
    }
  });
});
});
