import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enroll, newestChallenge, pushStatus } from '../signin/helpers.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { postedForm, startSamlWorld, type SamlWorld } from './world.js';

/**
 * `login.autoPush` through the SAML door: an SP registered with it gets the same journey as an OIDC
 * app (password, then the waiting page with the push already sent, no choice page), and node-saml
 * accepts the signed response with the MFA context. A wrong password at that SP's login page
 * rings nothing.
 */
const AUTO = { entityId: 'https://auto-sp.example.test/metadata', acs: 'https://auto-sp.example.test/acs' };
const MFA = 'https://refeds.org/profile/mfa';

describe('SAML SP with login.autoPush', () => {
  let s: SamlWorld;
  beforeAll(async () => {
    s = await startSamlWorld({ auto: { name: 'Auto SP', entityId: AUTO.entityId, acs: [{ url: AUTO.acs }], login: { autoPush: true } } });
  });
  afterAll(() => s.close());

  const sp = () => s.generic({ issuer: AUTO.entityId, callbackUrl: AUTO.acs, audience: AUTO.entityId, privateKey: undefined });

  it('the password lands on the waiting page with the push sent; its approval posts a signed MFA response node-saml accepts', async () => {
    const { phone } = await enroll(s.w);
    const b = new FormBrowser(s.w.t.url);
    const auto = sp(); // one instance: it remembers the request ID its response must answer (InResponseTo)
    const login = await b.go(await auto.getAuthorizeUrlAsync('relay-auto', undefined, {}));
    expect(login.body).toContain('Auto SP');
    const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
    const wait = await b.submit(login.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    expect(wait.url).toMatch(new RegExp(`/interaction/${uid}/wait$`));
    const challenge = await newestChallenge(phone);
    expect(challenge.app).toBe('Auto SP');
    expect((await phone.respond(challenge.id, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const status = await pushStatus(b, uid);
    expect(status.status).toBe('approved');
    const done = await b.go(status.next);
    const { action, fields } = postedForm(done.body);
    expect(action).toBe(AUTO.acs);
    expect(fields.RelayState).toBe('relay-auto');
    const { profile } = await auto.validatePostResponseAsync(fields);
    expect(profile!.nameID).toBe(s.w.accountId);
    expect(Buffer.from(fields.SAMLResponse!, 'base64').toString('utf8')).toContain(`<saml:AuthnContextClassRef>${MFA}</saml:AuthnContextClassRef>`);
  });

  it('a wrong password at the SP\'s login page rings nothing', async () => {
    const { phone } = await enroll(s.w);
    const b = new FormBrowser(s.w.t.url);
    const login = await b.go(await sp().getAuthorizeUrlAsync('relay-wrong', undefined, {}));
    const again = await b.submit(login.body, /\/login$/, { username: 'alice', password: 'not the password' });
    expect(again.res.status).toBe(401);
    expect(again.body).toContain('name="password"');
    expect(await phone.pending()).toEqual([]);
  });
});
