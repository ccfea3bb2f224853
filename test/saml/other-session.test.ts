import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { addUser } from '../signin/helpers.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { passwordAndPush, postedForm, startSamlWorld, xmlOf, type SamlWorld } from './world.js';

const MFA = 'https://refeds.org/profile/mfa';


/**
 * Red-team findings (fixed): ForceAuthn carried only by the login URL's ?force=1; the finish compared
 * the account, not the session, the code came from; a RelayState whose name was percent-encoded rode
 * outside an HTTP-Redirect signature. And odd inputs, each a 4xx.
 */
describe('SAML: ForceAuthn, the finishing session, the signed query', () => {
  let s: SamlWorld;
  const browser = () => new FormBrowser(s.w.t.url);
  beforeAll(async () => { s = await startSamlWorld(); });
  afterAll(() => s.close());

  // ForceAuthn is carried only by a query flag on /saml/sp/<id>/login: the browser drops it and the
  // existing SSO session answers; the assertion says MFA with the old AuthnInstant.
  it('ForceAuthn=true cannot be answered from the existing SSO session by dropping ?force=1', async () => {
    const b = browser();
    await passwordAndPush(s, b, await b.go(await s.generic().getAuthorizeUrlAsync('r0', undefined, {})));
    const started = await b.request(await s.generic({ forceAuthn: true }).getAuthorizeUrlAsync('forced', undefined, {}));
    expect(started.status).toBe(303);
    expect(started.headers.get('location')).toBe('/saml/sp/generic/login?force=1');
    const done = await b.go('/saml/sp/generic/login'); // the flag dropped
    // The SP hears AuthnFailed, in response to its request; never an assertion from the old session.
    const xml = xmlOf(postedForm(done.body).fields.SAMLResponse!);
    expect(xml).toContain('status:AuthnFailed');
    expect(postedForm(done.body).fields.RelayState).toBe('forced');
    expect(xml).not.toContain('<saml:Assertion');
  });

  // The finishing browser must hold "the IdP session the code came from", but only the account is
  // compared: a password-only session of the same account (made before the user's first phone) passes.
  it('a code from the victim\'s MFA session cannot be finished in a browser holding an older password-only session of the same account', async () => {
    const bobId = await addUser(s.w, 'bob');
    // 1. Before bob has a phone, the attacker signs in with the password alone (allowed: noDevice password-only).
    const attacker = browser();
    const pw = await attacker.go(await s.generic().getAuthorizeUrlAsync('a', undefined, {}));
    const pwDone = await attacker.submit(pw.body, /\/login$/, { username: 'bob', password: PushWorld.password });
    expect(xmlOf(postedForm(pwDone.body).fields.SAMLResponse!)).toContain('PasswordProtectedTransport');
    // 2. Bob enrolls a phone and signs in with it in his own browser.
    const victim = browser();
    await passwordAndPush(s, victim, await victim.go(await s.generic().getAuthorizeUrlAsync('v', undefined, {})), 'bob', bobId);
    // 3. The attacker starts an IdP-initiated sign-in, the victim's browser opens the authorization URL.
    const started = await attacker.request('/saml/start/generic?RelayState=x');
    const authUrl = (await attacker.request(started.headers.get('location')!)).headers.get('location')!;
    const answered = await victim.go(authUrl);
    expect(answered.url).toMatch(/\/callback\?code=/);
    const stolen = await attacker.go(answered.url);
    expect(stolen.res.status).toBe(400);
    expect(stolen.body).toContain('another browser');
    const form = /name="SAMLResponse" value="([^"]*)"/.exec(stolen.body);
    const xml = form ? xmlOf(form[1]!) : '';
    expect(xml).not.toContain(MFA);
    expect(xml).not.toContain('<saml:Assertion');
  });

  // HTTP-Redirect: the signature check splits the raw query by name, the reader uses Koa's decoded
  // query: a RelayState whose name is percent-encoded rides outside the signature.
  it('a RelayState outside the signature of a signed HTTP-Redirect request is refused', async () => {
    const url = await s.generic().getAuthorizeUrlAsync('', undefined, {});
    expect(url).not.toContain('RelayState=');
    const res = await fetch(`${url}&Relay%53tate=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(res.status).toBe(403);
  });

  it('odd inputs give 4xx, never 500', async () => {
    const paths = [
      '/saml/sso?SAMLRequest=%ZZ', '/saml/sso?SAMLRequest=a&SAMLRequest=b', '/saml/sso?SAMLRequest=AAAA&SigAlg=x&Signature=%',
      '/saml/start/generic?RelayState=a&RelayState=b', '/saml/start/..%2Fgeneric', '/saml/slo?SAMLRequest=%00',
      '/saml/sp/generic/callback?code=x&state=y', '/saml/sp/generic/callback?code=x&code=y', '/saml/certificate?format[]=base64',
      '/saml/sp/generic/login?force[]=1', '/saml/sp/m365/login?passive=1&force=1',
    ];
    for (const p of paths) {
      const res = await fetch(`${s.w.t.url}${p}`, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect({ p, status: res.status < 500 }).toEqual({ p, status: true });
    }
  });
});

/**
 * RequestedAuthnContext (SAML core 3.3.2.2.1). Red-team finding (fixed): it was not read, so an SP
 * that asked for MFA got a Success carrying the password class for a password-only sign-in.
 */
describe('SAML RequestedAuthnContext', () => {
  let s: SamlWorld;
  beforeAll(async () => { s = await startSamlWorld(); });
  afterAll(() => s.close());
  const asking = (authnContext: string[], racComparison: 'exact' | 'minimum' | 'better' | 'maximum' = 'exact') =>
    s.generic({ disableRequestedAuthnContext: false, authnContext, racComparison });

  it('an SP that asks for MFA never gets a Success for the password alone: NoAuthnContext', async () => {
    await addUser(s.w, 'carol');
    const b = new FormBrowser(s.w.t.url);
    const login = await b.go(await asking([MFA]).getAuthorizeUrlAsync('r', undefined, {}));
    const done = await b.submit(login.body, /\/login$/, { username: 'carol', password: PushWorld.password });
    const form = /name="SAMLResponse" value="([^"]*)"/.exec(done.body);
    const xml = form ? xmlOf(form[1]!) : '';
    expect(xml).not.toContain('status:Success');
    expect(xml).not.toContain('<saml:Assertion');
    expect(xml).toContain('status:NoAuthnContext');
  });

  it('an SP that asks for MFA gets it after the push, with the MFA class', async () => {
    const danId = await addUser(s.w, 'dan');
    const b = new FormBrowser(s.w.t.url);
    const done = await passwordAndPush(s, b, await b.go(await asking([MFA]).getAuthorizeUrlAsync('r', undefined, {})), 'dan', danId);
    const xml = xmlOf(postedForm(done.body).fields.SAMLResponse!);
    expect(xml).toContain('status:Success');
    expect(xml).toContain(`<saml:AuthnContextClassRef>${MFA}</saml:AuthnContextClassRef>`);
  });

  it('exactly the password class asked (node-saml\'s default): an MFA sign-in answers that class (SAML core 3.3.2.2.1), "minimum" answers MFA; a class we do not know: NoAuthnContext at once', async () => {
    const erinId = await addUser(s.w, 'erin');
    const b = new FormBrowser(s.w.t.url);
    const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
    const done = await passwordAndPush(s, b, await b.go(await asking([PPT]).getAuthorizeUrlAsync('r', undefined, {})), 'erin', erinId);
    const exact = xmlOf(postedForm(done.body).fields.SAMLResponse!);
    expect(exact).toContain('status:Success');
    expect(exact).toContain(`<saml:AuthnContextClassRef>${PPT}</saml:AuthnContextClassRef>`);
    expect(exact).not.toContain(MFA);
    const franId = await addUser(s.w, 'fran');
    const other = new FormBrowser(s.w.t.url);
    const atLeast = await passwordAndPush(s, other, await other.go(await asking([PPT], 'minimum').getAuthorizeUrlAsync('m', undefined, {})), 'fran', franId);
    expect(xmlOf(postedForm(atLeast.body).fields.SAMLResponse!)).toContain(`<saml:AuthnContextClassRef>${MFA}</saml:AuthnContextClassRef>`);
    const unknown = await new FormBrowser(s.w.t.url).go(await asking(['urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos']).getAuthorizeUrlAsync('k', undefined, {}));
    const xml = xmlOf(postedForm(unknown.body).fields.SAMLResponse!);
    expect(xml).toContain('status:NoAuthnContext');
    expect(xml).not.toContain('<saml:Assertion');
  });
});
