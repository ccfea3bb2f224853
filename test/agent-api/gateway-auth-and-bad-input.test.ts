import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushWorld } from '../support/push-world.js';
import { auditEvents } from '../signin/helpers.js';
import { raw } from '../support/raw-http.js';
import { authenticate, basic, call, FENCED_SECRET, freshIp, freshUser, GATEWAY_SECRET, PASSWORD, startAgentWorld, type Answer } from './helpers.js';

/**
 * Guards the agent API's edge: only a configured gateway with its secret (from an allowed network)
 * gets in, and one answer covers every way of failing that; hostile bodies get a 4xx JSON error,
 * never a 500, and change nothing (no password checked, no push sent).
 */
describe('agent API: gateway authentication and bad input', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld(); });
  afterAll(() => w.close());

  const redisKeys = async () => {
    const prefix = w.t.idp.redis.options.keyPrefix ?? '';
    // The phone's own device-API calls (replay ids, rate limits) are not the gateway's doing.
    return (await w.t.idp.redis.keys(`${prefix}*`)).filter((k) => !k.includes(':devauth:') && !k.includes(':rl:')).sort();
  };

  const expectInvalidClient = (res: Answer) => {
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'gateway authentication failed' });
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="agent-api".*Bearer realm="agent-api"/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  };

  it('missing, wrong or misplaced gateway credentials: 401 invalid_client, and the password is never looked at', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const body = { username, password: PASSWORD, passcode: '', client_ip: freshIp() };
    const attempts: Array<string | null> = [
      null,
      basic('vpn', `${GATEWAY_SECRET}x`),
      basic('vpn', GATEWAY_SECRET.slice(0, -1)),
      basic('no-such-gateway', GATEWAY_SECRET),
      basic('other-gateway', GATEWAY_SECRET), // a right secret under another gateway's id
      `Bearer 0${GATEWAY_SECRET}`,
      `Basic ${Buffer.from(GATEWAY_SECRET).toString('base64')}`, // no id
      'Digest username="vpn"',
      // The fenced gateway's right secret, from 127.0.0.1 (it allows 10.0.0.0/8 only).
      basic('fenced', FENCED_SECRET),
      `Bearer ${FENCED_SECRET}`,
    ];
    for (const auth of attempts) expectInvalidClient(await authenticate(w, body, auth));
    for (const method of ['GET', 'DELETE']) expectInvalidClient(await call(w, method, '/api/agent/transactions/abc', { auth: null }));
    expect(await phone!.phone.pending()).toEqual([]);
    expect((await auditEvents(w, 'signin.failure')).filter((e) => e.account_id === accountId)).toEqual([]);
  });

  it('the secret works as Basic (also form-encoded, as OAuth clients send it) and as Bearer', async () => {
    const { username, phone } = await freshUser(w);
    const code = () => phone!.phone.currentTotp();
    const r1 = await authenticate(w, { username, password: PASSWORD, passcode: code(), client_ip: freshIp() }, `Bearer ${GATEWAY_SECRET}`);
    expect(r1.status).toBe(200);
    // The next TOTP step is not valid yet: a wrong passcode is still proof the gateway got in (403, not 401).
    const r2 = await authenticate(w, { username, password: 'wrong', client_ip: freshIp() }, basic('vpn', encodeURIComponent(GATEWAY_SECRET)));
    expect(r2.status).toBe(403);
  });

  it('bodies that are too large, not JSON, not UTF-8 or holding odd characters: 4xx JSON, nothing checked', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const ok = { username, password: PASSWORD, passcode: '', client_ip: freshIp() };
    const json = (o: unknown) => JSON.stringify(o);
    const cases: Array<[what: string, status: number, error: string, opts: Parameters<typeof call>[3]]> = [
      ['oversized', 413, 'payload_too_large', { body: json({ ...ok, password: 'x'.repeat(5000) }) }],
      ['not JSON', 400, 'invalid_request', { body: '{"username": "a",' }],
      ['text/plain', 415, 'unsupported_media_type', { body: json(ok), headers: { 'content-type': 'text/plain' } }],
      ['form', 415, 'unsupported_media_type', { body: `username=${username}&password=x`, headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
      ['latin1 charset', 415, 'unsupported_media_type', { body: json(ok), headers: { 'content-type': 'application/json; charset=iso-8859-1' } }],
      ['an array', 400, 'invalid_request', { body: json([ok]) }],
      ['null', 400, 'invalid_request', { body: 'null' }],
      ['no body', 400, 'invalid_request', { body: '', headers: { 'content-type': 'application/json' } }],
      ['NUL in the username', 400, 'invalid_request', { body: json({ ...ok, username: `${username}\u0000` }) }],
      ['escaped NUL in the password', 400, 'invalid_request', { body: `{"username":"${username}","password":"a\\u0000b"}` }],
      ['lone surrogate', 400, 'invalid_request', { body: `{"username":"${username}\\ud800","password":"x"}` }],
      ['bytes that are not UTF-8', 400, 'invalid_request', { body: Buffer.concat([Buffer.from(`{"username":"${username}`), Buffer.from([0xff, 0xfe]), Buffer.from('","password":"x"}')]) }],
      ['CESU-8 surrogate', 400, 'invalid_request', { body: Buffer.concat([Buffer.from(`{"username":"${username}`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","password":"x"}')]) }],
      ['a number for the username', 400, 'invalid_request', { body: json({ ...ok, username: 42 }) }],
      ['an unknown member', 400, 'invalid_request', { body: json({ ...ok, passcod: '' }) }],
      ['a 7-digit passcode', 400, 'invalid_request', { body: json({ ...ok, passcode: '1234567' }) }],
      ['letters as a passcode', 400, 'invalid_request', { body: json({ ...ok, passcode: 'abcdef' }) }],
      ['an unknown mode', 400, 'invalid_request', { body: json({ ...ok, mode: 'stream' }) }],
      ['a negative wait', 400, 'invalid_request', { body: json({ ...ok, wait: -1 }) }],
      ['a fractional wait', 400, 'invalid_request', { body: json({ ...ok, wait: 1.5 }) }],
      ['client_ip not an address', 400, 'invalid_request', { body: json({ ...ok, client_ip: 'evil.example' }) }],
      ['an over-long username', 400, 'invalid_request', { body: json({ ...ok, username: 'u'.repeat(101) }) }],
      ['a byte-order mark', 400, 'invalid_request', { body: `\ufeff${json(ok)}` }],
      ['no content-type', 415, 'unsupported_media_type', { body: Buffer.from(json(ok)), headers: { 'content-type': '' } }],
      ['deeply nested JSON', 413, 'payload_too_large', { body: '['.repeat(20_000) + ']'.repeat(20_000) }],
      ['prototype pollution', 400, 'invalid_request', { body: `{"__proto__":{"polluted":true},${json(ok).slice(1)}` }],
      ['constructor.prototype', 400, 'invalid_request', { body: json({ ...ok, constructor: { prototype: { polluted: 1 } } }) }],
      ['an object for the password', 400, 'invalid_request', { body: json({ ...ok, password: { $gt: '' } }) }],
      ['null username', 400, 'invalid_request', { body: json({ ...ok, username: null }) }],
      ['missing password', 400, 'invalid_request', { body: json({ username }) }],
      ['a JSON string', 400, 'invalid_request', { body: '"x"' }],
    ];
    const before = await redisKeys();
    for (const [what, status, error, opts] of cases) {
      const res = await call(w, 'POST', '/api/agent/authenticate', opts);
      expect({ what, status: res.status, error: res.body.error }).toEqual({ what, status, error });
      expect(typeof res.body.error_description).toBe('string');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect(await phone!.phone.pending()).toEqual([]);
    expect((await auditEvents(w, 'signin.failure')).filter((e) => e.account_id === accountId)).toEqual([]);
    // Nothing counted, no sign-in started, no transaction: Redis is as it was.
    expect(await redisKeys()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a compressed body, a body sent in chunks past the limit, odd paths and methods: 4xx JSON', async () => {
    const gz = await call(w, 'POST', '/api/agent/authenticate', { body: '{}', headers: { 'content-encoding': 'gzip' } });
    expect(gz.status).toBe(415);
    const big = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(1000)));
        controller.close();
      },
    });
    const chunked = await fetch(`${w.t.url}/api/agent/authenticate`, {
      method: 'POST', body: big, duplex: 'half', headers: { 'content-type': 'application/json', authorization: basic('vpn', GATEWAY_SECRET) },
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ error: 'payload_too_large' });

    // One chunk past the limit and then silence (hostile-input red-team: the stream was destroyed,
    // the socket with it, and the 413 reached no one): the 413 arrives, and the connection closes.
    const body = ' '.repeat(5000);
    const paused = await raw(w.t.url, `POST /api/agent/authenticate HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('vpn', GATEWAY_SECRET)}\r\n`
      + `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n`);
    expect(paused).toMatch(/^HTTP\/1\.1 413 /);
    expect(paused).toMatch(/\r\nConnection: close\r\n/i);
    expect(JSON.parse(paused.slice(paused.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'payload_too_large' });

    const wrongMethod = await call(w, 'PUT', '/api/agent/authenticate', { body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toContain('POST');
    expect((await call(w, 'GET', '/api/agent/nothing-here')).status).toBe(404);
    for (const id of ['%00', 'a%2Fb', 'x'.repeat(200), '..%2F..%2Fetc', '%F0%9F%98%80']) {
      const res = await call(w, 'GET', `/api/agent/transactions/${id}`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.error).toBe('string');
    }
    const head = await fetch(`${w.t.url}/api/agent/transactions/abc`, { method: 'HEAD', headers: { authorization: basic('vpn', GATEWAY_SECRET) } });
    expect(head.status).toBe(405);
    const badWait = await call(w, 'GET', '/api/agent/transactions/abc?wait=soon');
    expect(badWait.status).toBe(400);
  });
});
