import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { M365 } from '../../src/saml/sp-config.js';
import { passwordAndPush, postBinding, postedForm, startSamlWorld, xmlOf, type SamlWorld } from '../saml/world.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Red-team finding (fixed): the callbacks of the IdP's own relying apps (SAML's finish, /account)
 * were GETs that ended the sign-in under way without its `state`. A page of any site sending the
 * user's browser there (a link, a redirect: the SameSite=Lax cookies go along) cancelled it: SAML
 * took the pending request and posted the SP a signed AuthnFailed; /account dropped its sign-in.
 * Now only the sign-in's own answer (its state) ends it; anything else gets a page and changes nothing.
 */
const FOREIGN = ['', '?state=guess', '?code=abc&state=guess', '?error=access_denied', '?state=a&state=b'];

describe('SAML: a cross-site GET of the finish callback', () => {
  let s: SamlWorld;
  beforeAll(async () => { s = await startSamlWorld(); }, 60000);
  afterAll(() => s.close());

  it('neither takes the pending sign-in nor answers the SP; the user\'s sign-in still finishes', async () => {
    const victim = new FormBrowser(s.w.t.url);
    const login = await postBinding(victim, `${s.w.t.url}/saml/sso`, await s.m365().getAuthorizeMessageAsync('victim-relay') as Record<string, string>);
    expect(login.body).toContain('name="password"');
    for (const query of FOREIGN) {
      const forged = await victim.go(`${s.w.t.url}/saml/sp/m365/callback${query}`);
      expect(forged.res.status).toBe(400);
      expect(forged.body).not.toContain('name="SAMLResponse"');
    }
    const done = await passwordAndPush(s, victim, login);
    const { action, fields } = postedForm(done.body);
    expect(action).toBe(M365.endpoint);
    expect(xmlOf(fields.SAMLResponse!)).toContain('status:Success');
    expect(fields.RelayState).toBe('victim-relay');
  }, 60000);
});

describe('/account: a cross-site GET of its callback', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start(); });
  afterAll(() => w.close());

  it('leaves the sign-in under way as it was: the password then opens the page', async () => {
    await w.t.idp.accounts.create({ username: 'carol', passwordHash: await hashPassword(PushWorld.password) });
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    expect(login.body).toContain('name="password"');
    for (const query of FOREIGN) {
      const forged = await browser.go(`/account/callback${query}`);
      expect(forged.res.status).toBe(400);
    }
    const inside = await browser.submit(login.body, /\/login$/, { username: 'carol', password: PushWorld.password });
    expect(inside.url).toBe(`${w.t.url}/account`);
    expect(inside.body).toContain('You have no authenticator yet');
  });
});
