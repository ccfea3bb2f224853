import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FormBrowser } from '../support/web-browser.js';
import { passwordAndPush, postedForm, startSamlWorld, xmlOf, type SamlWorld } from './world.js';


/**
 * Red-team finding (fixed): ForceAuthn's "sign-in newer than the session the request found" read
 * the session from the /saml/sso request's cookies. Sent without the SSO cookie (the pending
 * cookie then carried over to the browser that holds the old session), no session was found, any
 * auth_time passed, and dropping ?force=1 let the old SSO session answer. The answer's sign-in must
 * now also be no older than the request itself.
 */
describe('SAML ForceAuthn, the /sso request sent without the SSO cookie', () => {
  let s: SamlWorld;
  beforeAll(async () => { s = await startSamlWorld(); });
  afterAll(() => s.close());

  it('an old SSO session never answers ForceAuthn', async () => {
    const b = new FormBrowser(s.w.t.url);
    await passwordAndPush(s, b, await b.go(await s.generic().getAuthorizeUrlAsync('r0', undefined, {})));
    await new Promise((r) => setTimeout(r, 1100)); // the session is older than the request
    const bare = new FormBrowser(s.w.t.url); // same user agent, the SSO cookie left out of this one request
    const started = await bare.request(await s.generic({ forceAuthn: true }).getAuthorizeUrlAsync('forced', undefined, {}));
    expect(started.status).toBe(303);
    b.adoptCookies(bare, '');
    const done = await b.go('/saml/sp/generic/login'); // ?force=1 dropped
    const form = postedForm(done.body);
    const xml = form.fields.SAMLResponse ? xmlOf(form.fields.SAMLResponse) : '';
    expect(xml).not.toContain('<saml:Assertion');
    expect(xml).toContain('status:AuthnFailed');
  });
});
