import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizationRequestTooLarge, logoutRequestTooLarge } from '../../src/http/hostile.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * What an unauthenticated client can make the IdP keep. Red-team (resource exhaustion): (1) an
 * authorization request is kept as sent in its interaction for an hour, and three 15 KB values made
 * each cookieless POST /auth keep 66 KB in Redis; now each value is held to 4 KB (a request object
 * to 16) and the request to 24 KB. (2) A throttled address posting one login
 * form again and again wrote an audit row (and a log line) per request; now one per throttled
 * username or address and wait.
 */
const auth = (extra: Record<string, string> = {}) => new URLSearchParams({
  client_id: 'test-rp', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:1/cb',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGZSMmZWAB', code_challenge_method: 'S256', ...extra,
});

describe('authorizationRequestTooLarge (pure)', () => {
  it('each value to 4 KB (request 16), the whole to 24 KB', () => {
    expect(authorizationRequestTooLarge([['state', 'x'.repeat(4096)]])).toBeNull();
    expect(authorizationRequestTooLarge([['state', 'x'.repeat(4097)]])).toMatch(/"state" is longer than 4096/);
    expect(authorizationRequestTooLarge([['request', 'x'.repeat(16_384)]])).toBeNull();
    expect(authorizationRequestTooLarge([['id_token_hint', 'x'.repeat(20_000)]])).toBeNull(); // the MFA-only door refuses it as access_denied
    expect(authorizationRequestTooLarge([['id_token_hint', 'x'.repeat(24_577)]])).toMatch(/"id_token_hint"/);
    expect(authorizationRequestTooLarge(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => [n, 'x'.repeat(4000)] as [string, string]))).toMatch(/longer than 24576/);
  });
});

describe('logoutRequestTooLarge (pure)', () => {
  it('each value to 4 KB (id_token_hint 8), the whole to 12 KB: it must fit in a Location a browser follows', () => {
    expect(logoutRequestTooLarge([['state', 'x'.repeat(4096)], ['id_token_hint', 'x'.repeat(8000)]])).toBeNull();
    expect(logoutRequestTooLarge([['id_token_hint', 'x'.repeat(8192)]])).toBeNull();
    expect(logoutRequestTooLarge([['state', 'x'.repeat(4097)]])).toMatch(/"state" is longer than 4096/);
    expect(logoutRequestTooLarge([['id_token_hint', 'x'.repeat(8193)]])).toMatch(/"id_token_hint" is longer than 8192/);
    expect(logoutRequestTooLarge([['a', 'x'.repeat(4000)], ['b', 'x'.repeat(4000)], ['c', 'x'.repeat(4000)], ['d', 'x'.repeat(400)]])).toMatch(/logout request is longer than 12288/);
  });
});

describe('an unauthenticated client\'s requests', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp({ storage: 'postgres', redis: 'real', clients: [testRp()] }); });
  afterAll(() => t.close());

  it('/auth with a value over its cap is a 400 that keeps nothing; at the cap it is served', async () => {
    const big = await fetch(`${t.url}/auth?${auth({ state: 's'.repeat(4097) })}`, { redirect: 'manual', headers: { accept: 'application/json' } });
    expect(big.status).toBe(400);
    expect(await big.json()).toMatchObject({ error: 'invalid_request' });
    expect(big.headers.get('set-cookie')).toBeNull(); // no interaction was started
    const posted = await fetch(`${t.url}/auth`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: auth({ state: 's'.repeat(4000), nonce: 'n'.repeat(4000), login_hint: 'h'.repeat(4000), ui_locales: 'u'.repeat(4000), acr_values: 'a'.repeat(4000), claims_locales: 'c'.repeat(4000), id_token_hint: 'i'.repeat(4000) }).toString(), // 28 KB in all
    });
    expect(posted.status).toBe(400);
    expect(await posted.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/longer than 24576/) });
    const fine = await fetch(`${t.url}/auth?${auth({ state: 's'.repeat(4096) })}`, { redirect: 'manual' });
    expect(fine.status).toBe(303);
    expect(fine.headers.get('location')).toMatch(/\/interaction\//);
  });

  it('/session/end with an oversized id_token_hint or state is a 400, not a 303 to a Location no browser follows; a normal one is served', async () => {
    for (const extra of [{ id_token_hint: 'e'.repeat(40_000) }, { state: 's'.repeat(40_000) }, { state: 's'.repeat(5000) }] as Array<Record<string, string>>) {
      const res = await fetch(`${t.url}/session/end`, {
        method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ client_id: 'test-rp', ...extra }).toString(),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toMatch(/longer than/);
    }
    const get = await fetch(`${t.url}/session/end?${new URLSearchParams({ client_id: 'test-rp', state: 's'.repeat(4097) })}`, { redirect: 'manual' });
    expect(get.status).toBe(400);
    expect(get.headers.get('set-cookie')).toBeNull(); // no session was made to keep the state in
    const posted = await fetch(`${t.url}/session/end`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'test-rp', state: 's'.repeat(4096) }).toString(),
    });
    expect(posted.status).toBe(303);
    const followed = await fetch(new URL(posted.headers.get('location')!, t.url), { redirect: 'manual' });
    expect(followed.status).toBe(200); // the confirmation page
  });

  it('PAR holds the same caps', async () => {
    const res = await fetch(`${t.url}/request`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64')}` },
      body: auth({ state: 's'.repeat(5000) }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('a throttled address posting one login form again and again writes one signin.throttled row, not one per request', async () => {
    const b = new FormBrowser(t.url);
    const page = await b.go(`/auth?${auth({ state: 'audit' })}`);
    const form = [...page.body.matchAll(/<form[^>]*action="([^"]*\/login)"[^>]*>([\s\S]*?)<\/form>/g)][0]!;
    const action = new URL(form[1]!.replace(/&amp;/g, '&'), t.url).href;
    const hidden = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(([, n, v]) => [n!, v!]));
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const res = await b.request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...hidden, username: `ghost-${i}`, password: 'wrong password here' }).toString() });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const refused = statuses.filter((s) => s === 429).length;
    expect(refused).toBeGreaterThan(30); // the address is throttled after its free failures
    const rows = await t.idp.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM audit_events WHERE type = 'signin.throttled'`);
    // One per wait: on a loaded machine the 60 posts can outlast the first wait, and the next wait
    // gets its own row; one per refused request (the bug) would be over 30.
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(1);
    expect(Number(rows[0]!.n)).toBeLessThanOrEqual(3);
  });
});
