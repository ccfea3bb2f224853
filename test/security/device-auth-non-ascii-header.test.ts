import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';

/**
 * docs/device-api.md section 2: the `Authorization` credential is the compact JWS; anything else is
 * `401 invalid_token` with `WWW-Authenticate: Device`, except a header holding a byte outside
 * printable ASCII, which the IdP's HTTP edge (src/http/hostile.ts) refuses on every path before the
 * device API reads it: `400 invalid_request`. Red-team (device API round): the page promised
 * the 401 for that case too; the edge's refusal is generic and stays (it is what keeps such bytes
 * from every scheme's lookups), so the page now says so. This pins what a client observes.
 */
let w: PushWorld;
let phone: SimulatedAuthenticator;

beforeAll(async () => {
  w = await PushWorld.start();
  ({ phone } = await w.enrollPhone({ push: false }));
});
afterAll(() => w.close());

/** GET /api/device/challenges with `Authorization: <value bytes>`, over a raw socket (fetch refuses such bytes itself). */
function rawGet(value: Buffer): Promise<{ status: number; headers: string; body: string }> {
  const { port, hostname } = new URL(w.t.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(Buffer.concat([Buffer.from('GET /api/device/challenges HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: '), value, Buffer.from('\r\n\r\n')]));
    });
    let data = '';
    socket.on('data', (chunk: Buffer) => { data += chunk.toString('latin1'); });
    socket.on('end', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body });
    });
    socket.on('error', reject);
  });
}

describe('an Authorization header with a byte outside ASCII', () => {
  it.each([['0xE9 (latin-1 é)', [0xe9]], ['0x80', [0x80]], ['the UTF-8 of é', [0xc3, 0xa9]]])('Device <JWS> then %s: 400 invalid_request without WWW-Authenticate, and the token stays unused', async (_what, bytes) => {
    const header = await phone.authHeader('GET', '/api/device/challenges');
    const refused = await rawGet(Buffer.concat([Buffer.from(header), Buffer.from(bytes)]));
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_request' });
    expect(refused.headers).not.toContain('www-authenticate');
    // Refused before the device API: the same token (its jti) is still accepted, once.
    expect((await rawGet(Buffer.from(header))).status).toBe(200);
  });

  it('an ASCII credential that is not a compact JWS is still the device API\'s 401 invalid_token with WWW-Authenticate: Device', async () => {
    const res = await rawGet(Buffer.from('Device not,a"jws'));
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token' });
    expect(res.headers).toMatch(/\r\nwww-authenticate: device\b/);
  });
});
