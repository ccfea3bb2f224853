import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { CIBA_GRANT, CibaWorld, type CibaUser } from './world.js';

/**
 * Hostile and mistaken input to the CIBA endpoints: every refusal is an OAuth error (JSON with an
 * `error` code, CIBA Core 13 and 11), a 4xx and never a 500, sends no push and tells a caller no
 * more about an account than "unknown_user_id".
 */
describe('CIBA bad input', () => {
  let w: CibaWorld;
  let lee: CibaUser;

  beforeAll(async () => {
    // A ping client too (its endpoint is never reached here): requests of one client are not another's.
    w = await CibaWorld.start({ pingEndpoint: 'http://127.0.0.1:9/never' });
    lee = await w.user('lee');
  });
  afterAll(async () => {
    await w?.close();
  });

  const backchannel = (form: Record<string, string>, opts: Parameters<CibaWorld['post']>[2] = {}) => w.post('/backchannel', form, opts);

  async function expectOAuthError(res: Awaited<ReturnType<CibaWorld['post']>>, status: number, error: string | RegExp) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json?.error).toEqual(typeof error === 'string' ? error : expect.stringMatching(error));
  }

  /** Nothing reached lee's phone (no challenge is pending for the account). */
  async function expectNoPush() {
    expect(await lee.phone.pending()).toEqual([]);
  }

  it.each([
    ['33 characters', 'x'.repeat(33)],
    ['markup', '<b>Approve</b>'],
    ['a bidi override', 'Order\u202E1147'],
    ['two spaces in a row', 'Order  42'],
    ['a leading space', ' Order 42'],
    ['a trailing space', 'Order 42 '],
    ['an emoji', 'Order 42 \u{1F600}'],
    ['a line break', 'Order\n42'],
    ['a look-alike letter', 'Оrder 42'],
  ])('binding_message with %s: invalid_binding_message, no push', async (_what, message) => {
    const res = await backchannel({ scope: 'openid', login_hint: 'lee', binding_message: message });
    await expectOAuthError(res, 400, 'invalid_binding_message');
    await expectNoPush();
  });

  it.each([
    ['no hint at all', { scope: 'openid' }, 'invalid_request'],
    ['two hints', { scope: 'openid', login_hint: 'lee', id_token_hint: 'x.y.z' }, 'invalid_request'],
    ['an empty login_hint', { scope: 'openid', login_hint: '' }, 'invalid_request'],
    ['login_hint_token', { scope: 'openid', login_hint_token: 'eyJhbGciOiJub25lIn0.e30.' }, 'invalid_request'],
    ['a malformed id_token_hint', { scope: 'openid', id_token_hint: 'not-a-jwt' }, 'invalid_request'],
    ['no scope', { login_hint: 'lee' }, 'invalid_request'],
    ['no openid scope', { scope: 'profile', login_hint: 'lee' }, 'invalid_request'],
    ['a user_code', { scope: 'openid', login_hint: 'lee', user_code: '1234' }, 'invalid_request'],
    ['a negative requested_expiry', { scope: 'openid', login_hint: 'lee', requested_expiry: '-5' }, 'invalid_request'],
    ['a requested_expiry that is no number', { scope: 'openid', login_hint: 'lee', requested_expiry: 'soon' }, 'invalid_request'],
    ['a requested_expiry in hexadecimal', { scope: 'openid', login_hint: 'lee', requested_expiry: '0x10' }, 'invalid_request'],
    ['a requested_expiry with an exponent', { scope: 'openid', login_hint: 'lee', requested_expiry: '1e2' }, 'invalid_request'],
    ['a requested_expiry with spaces', { scope: 'openid', login_hint: 'lee', requested_expiry: ' 16 ' }, 'invalid_request'],
    ['a requested_expiry of zero', { scope: 'openid', login_hint: 'lee', requested_expiry: '0' }, 'invalid_request'],
    // Red-team: an object shaped like an array was read as no restriction, and the request went to the phone.
    ['essential acr values that are no list', { scope: 'openid', login_hint: 'lee', claims: JSON.stringify({ id_token: { acr: { essential: true, values: { 0: 'urn:pushotp:acr:mfa', length: 1 } } } }) }, 'invalid_request'],
    ['a login_hint of 10 000 characters', { scope: 'openid', login_hint: 'a'.repeat(10_000) }, 'unknown_user_id'],
    ['a login_hint with a NUL', { scope: 'openid', login_hint: 'lee\u0000' }, /^(invalid_request|unknown_user_id)$/],
  ])('%s: a 400 OAuth error, no push', async (_what, form, error) => {
    const res = await backchannel(form as Record<string, string>);
    await expectOAuthError(res, 400, error);
    await expectNoPush();
  });

  it('an unknown user, a user without an authenticator and a disabled user get the same unknown_user_id', async () => {
    await w.t.idp.accounts.create({ username: 'nodevice', displayName: 'No Device', passwordHash: await hashPassword('no device pass 1') });
    const off = await w.user('offuser');
    await w.t.idp.accounts.setDisabled(off.accountId, true);
    const answers = await Promise.all(['nobody-here', 'nodevice', 'offuser', 'nobody@example.test'].map((hint) => backchannel({ scope: 'openid', login_hint: hint })));
    for (const res of answers) await expectOAuthError(res, 400, 'unknown_user_id');
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(await off.phone.pending()).toEqual([]);
  });

  // Red-team: an account whose username is another account's e-mail address got that user's push.
  it('an address that is one account\'s username and another\'s e-mail names nobody: unknown_user_id, no push to either', async () => {
    const carl = await w.user('carl', { email: 'carl@corp.test' });
    const lookalike = await w.user('carl@corp.test', { email: 'mallory@corp.test' });
    await expectOAuthError(await backchannel({ scope: 'openid', login_hint: 'carl@corp.test' }), 400, 'unknown_user_id');
    await expectOAuthError(await backchannel({ scope: 'openid', login_hint: 'CARL@corp.test' }), 400, 'unknown_user_id');
    expect(await carl.phone.pending()).toEqual([]);
    expect(await lookalike.phone.pending()).toEqual([]);
    // Unambiguous names still work: carl's own username, the look-alike's own e-mail.
    expect((await backchannel({ scope: 'openid', login_hint: 'carl' })).status).toBe(200);
    expect((await backchannel({ scope: 'openid', login_hint: 'mallory@corp.test' })).status).toBe(200);
  });

  it('an unknown client or a wrong secret: 401 invalid_client, no push', async () => {
    await expectOAuthError(await backchannel({ scope: 'openid', login_hint: 'lee' }, { clientId: 'no-such-client' }), 401, 'invalid_client');
    await expectOAuthError(await backchannel({ scope: 'openid', login_hint: 'lee' }, { secret: 'wrong-secret-0123456789abcdef0123456789' }), 401, 'invalid_client');
    await expectNoPush();
  });

  it('odd bytes and odd bodies: a 4xx, never a 500, no push', async () => {
    const bodies: Array<{ body: string; contentType?: string }> = [
      { body: 'scope=openid&login_hint=%FF%FE' },
      { body: 'scope=openid&login_hint=lee%00' },
      { body: '{"scope":"openid","login_hint":"lee"}', contentType: 'application/json' },
      { body: 'scope=openid&login_hint=lee&login_hint=lee' },
      { body: '%%%' },
      { body: '' },
    ];
    for (const b of bodies) {
      const res = await backchannel({}, b);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    await expectNoPush();
  });

  // Found by a hostile-input sweep: /backchannel took these with a 200; the push went out, the phone's
  // approval answered 'approved' and the audit said signin.success, but the grant (claims named with a
  // NUL) could not be stored and the client polled authorization_pending until the request expired.
  it.each([
    ['a claims name with a NUL', `claims=${encodeURIComponent(JSON.stringify({ id_token: { 'a\u0000': null } }))}`],
    ['a claims name with an escaped lone surrogate', `claims=${encodeURIComponent('{"id_token":{"\\ud800":null}}')}`],
    ['a userinfo claims name with an escaped NUL', `claims=${encodeURIComponent('{"userinfo":{"x\\u0000":null}}')}`],
    ['acr_values with a NUL', 'acr_values=urn%3Apushotp%3Aacr%3Aphone%00'],
    ['a request_context with a lone surrogate (CESU-8)', 'request_context=%ED%A0%80'],
    ['a client_notification_token with a NUL', 'client_notification_token=abc%00def'],
    ['an unknown parameter with a NUL', 'whatever=x%00'],
  ])('%s: 400 invalid_request before anything starts, no push', async (_what, extra) => {
    const res = await backchannel({}, { body: `scope=openid&login_hint=lee&binding_message=hi&${extra}` });
    await expectOAuthError(res, 400, 'invalid_request');
    await expectNoPush();
  });

  it('the token endpoint: an unknown auth_req_id, another client\'s, or none is an OAuth 400', async () => {
    await expectOAuthError(await w.post('/token', { grant_type: CIBA_GRANT, auth_req_id: 'no-such-request' }), 400, 'invalid_grant');
    await expectOAuthError(await w.post('/token', { grant_type: CIBA_GRANT }), 400, 'invalid_request');
    const mine = await backchannel({ scope: 'openid', login_hint: 'lee' });
    expect(mine.status).toBe(200);
    const id = String(mine.json?.auth_req_id);
    await expectOAuthError(await w.post('/token', { grant_type: CIBA_GRANT, auth_req_id: id }, { clientId: 'ciba-ping' }), 400, 'invalid_grant');
  });
});
