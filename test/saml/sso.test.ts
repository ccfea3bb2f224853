import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { M365 } from '../../src/saml/sp-config.js';
import { enroll, newestChallenge, pushStatus, sendPush } from '../signin/helpers.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { GENERIC, M365_ISSUER_URI, postBinding, postedForm, startSamlWorld, type SamlWorld } from './world.js';

const MFA = 'https://refeds.org/profile/mfa';
const PASSWORD_ONLY = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

/** Password at the IdP's own login page, then a push the simulated phone approves: the page the IdP ends on. */
async function passwordAndPush(s: SamlWorld, browser: FormBrowser, login: { url: string; body: string }) {
  // A phone per sign-in: one phone answers at most two TOTP steps ahead of the clock.
  const phone = await enroll(s.w);
  const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
  const choice = await browser.submit(login.body, /\/login$/, { username: 'alice', password: PushWorld.password });
  const wait = await sendPush(browser, choice.body);
  const number = matchNumberOf(wait.body)!;
  const challenge = await newestChallenge(phone.phone);
  expect(challenge.app).toBe(login.body.includes('Microsoft 365') ? 'Microsoft 365' : 'Generic SP');
  expect((await phone.phone.respond(challenge.id, 'approve', { number })).status).toBe(200);
  const status = await pushStatus(browser, uid);
  expect(status.status).toBe('approved');
  return browser.go(status.next);
}

const assertionXml = (samlResponse: string) => Buffer.from(samlResponse, 'base64').toString('utf8');

describe('SAML 2.0 single sign-on, validated by @node-saml/node-saml', () => {
  let s: SamlWorld;
  const browser = () => new FormBrowser(s.w.t.url);
  let signedIn: FormBrowser;
  beforeAll(async () => {
    s = await startSamlWorld();
  });
  afterAll(() => s.close());

  it('publishes metadata with the signing certificate and SSO/SLO endpoints over Redirect and POST', async () => {
    const res = await fetch(`${s.w.t.url}/saml/metadata`);
    const xml = await res.text();
    expect(res.status).toBe(200);
    expect(xml).toContain(`entityID="${s.w.t.url}/saml/metadata"`);
    expect(xml).toContain(`<ds:X509Certificate>${s.idpCert}</ds:X509Certificate>`);
    for (const b of ['HTTP-Redirect', 'HTTP-POST']) {
      expect(xml).toContain(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:${b}" Location="${s.w.t.url}/saml/sso"/>`);
      expect(xml).toContain(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:${b}" Location="${s.w.t.url}/saml/slo"/>`);
    }
    const pem = await (await fetch(`${s.w.t.url}/saml/certificate`)).text();
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(pem.replace(/-----[A-Z ]+-----|\s/g, '')).toBe(s.idpCert);
    // The private key lives in the database, sealed under the key-encryption key: a copy of the row signs nothing.
    const [row] = await s.w.t.idp.db.query<{ value: Record<string, unknown> }>("SELECT value FROM keystore WHERE name = 'saml-signing-key'");
    expect(Object.keys(row!.value)).toEqual(['sealed']);
    expect(JSON.stringify(row!.value)).not.toContain('PRIVATE KEY');
  });

  it('the registry of relying apps lists the SAML SPs beside the OIDC clients, each with its login policy', () => {
    const apps = s.w.t.idp.apps;
    expect(apps.list().map((a) => `${a.protocol}:${a.id}`)).toEqual(expect.arrayContaining(['oidc:account-console', 'saml:generic', 'saml:m365']));
    expect(apps.get('saml', 'm365')).toMatchObject({ name: 'Microsoft 365', clientId: 'saml.m365', policy: { form: 'two-step', consent: 'implicit' } });
    // The sign-in runs under the SP's internal client, which oidc-provider knows with the same policy.
    expect(s.w.t.idp.clients.find((c) => c.metadata.client_id === 'saml.m365')!.login).toEqual(apps.get('saml', 'm365')!.policy);
  });

  it('SP-initiated over HTTP-Redirect (signed request): password + push approval, a signed response and assertion with an MFA context', async () => {
    const sp = s.generic();
    const b = browser();
    const login = await b.go(await sp.getAuthorizeUrlAsync('relay-1', undefined, {}));
    expect(login.url).toMatch(/\/interaction\//);
    expect(login.body).toContain('Generic SP');
    const done = await passwordAndPush(s, b, login);
    const { action, fields } = postedForm(done.body);
    expect(action).toBe(GENERIC.acs);
    expect(fields.RelayState).toBe('relay-1');
    const { profile } = await sp.validatePostResponseAsync(fields);
    expect(profile!.nameID).toBe(s.w.accountId);
    expect(profile!.nameIDFormat).toBe('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    expect(profile!.uid).toBe('alice');
    expect(profile!.displayName).toBe('Alice');
    expect(profile!.sessionIndex).toMatch(/^_[0-9a-f]{40}$/);
    const xml = assertionXml(fields.SAMLResponse!);
    expect(xml).toContain(`<saml:AuthnContextClassRef>${MFA}</saml:AuthnContextClassRef>`);
    expect(xml).toContain(`Destination="${GENERIC.acs}"`);
    expect(xml).toContain(`Recipient="${GENERIC.acs}"`);
    expect(xml).toContain(`<saml:Audience>${GENERIC.entityId}</saml:Audience>`);
    expect(xml.match(/<ds:Signature /g)).toHaveLength(2); // response and assertion
    expect(xml).toContain('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    signedIn = b;
  });

  it('the Microsoft 365 profile by HTTP-POST: password + push, and node-saml with Microsoft\'s settings accepts the response', async () => {
    const sp = s.m365();
    const b = browser();
    const login = await postBinding(b, `${s.w.t.url}/saml/sso`, await sp.getAuthorizeMessageAsync('m365-relay') as Record<string, string>);
    expect(login.body).toContain('Microsoft 365');
    const done = await passwordAndPush(s, b, login);
    const { action, fields } = postedForm(done.body);
    expect(action).toBe(M365.endpoint);
    expect(fields.RelayState).toBe('m365-relay');
    const { profile } = await sp.validatePostResponseAsync(fields);
    const immutableId = s.w.accountId.replace(/-/g, '');
    expect(profile!.nameID).toBe(immutableId);
    expect(profile!.nameIDFormat).toBe('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    expect(profile!.issuer).toBe(M365_ISSUER_URI);
    expect(profile!.IDPEmail).toBe('alice'); // no e-mail on the account: the UPN is the username
    const xml = assertionXml(fields.SAMLResponse!);
    expect(xml.match(/<saml:AuthnContextClassRef>[^<]*<\/saml:AuthnContextClassRef>/g)).toEqual([`<saml:AuthnContextClassRef>${M365.mfaClassRef}</saml:AuthnContextClassRef>`]);
    expect(xml).toContain(`Destination="${M365.endpoint}"`);
    expect(xml).toContain(`Recipient="${M365.endpoint}"`);
    expect(xml).toContain(`<saml:Audience>${M365.entityId}</saml:Audience>`);
    expect(xml).toMatch(/<saml:Assertion [^>]*>.*<ds:Signature /);
    expect(xml).toContain('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');

    // Logout as Microsoft sends it: an unsigned LogoutRequest by Redirect, answered by a signed Redirect to login.srf.
    const out = await b.go(await sp.getLogoutUrlAsync(profile!, 'bye', {}));
    expect(out.url.startsWith(`${M365.endpoint}?SAMLResponse=`)).toBe(true);
    const query = new URL(out.url).search.slice(1);
    expect((await sp.validateRedirectAsync(Object.fromEntries(new URLSearchParams(query)), query)).loggedOut).toBe(true);
  });

  it('single sign-on across protocols: after the generic SP\'s sign-in, Microsoft 365 gets its response without a login page', async () => {
    const done = await postBinding(signedIn, `${s.w.t.url}/saml/sso`, await s.m365().getAuthorizeMessageAsync('again') as Record<string, string>);
    expect(done.url).toMatch(/\/saml\/sp\/m365\/callback/);
    const { fields } = postedForm(done.body);
    expect(assertionXml(fields.SAMLResponse!)).toContain(M365.mfaClassRef);
  });

  it('IdP-initiated SSO posts an unsolicited response node-saml accepts', async () => {
    const done = await signedIn.go('/saml/start/generic?RelayState=https%3A%2F%2Fsp.example.test%2Fhome');
    const { fields } = postedForm(done.body);
    expect(fields.RelayState).toBe('https://sp.example.test/home');
    const xml = assertionXml(fields.SAMLResponse!);
    expect(xml).not.toContain('InResponseTo=');
    const { profile } = await s.generic({ validateInResponseTo: 'never' as never }).validatePostResponseAsync(fields);
    expect(profile!.nameID).toBe(s.w.accountId);
  });

  it('an AuthnContextClassRef that tells the truth: a password-only sign-in (no device) is not called MFA', async () => {
    await s.w.t.idp.accounts.create({ username: 'bob', displayName: 'Bob', passwordHash: await hashPassword(PushWorld.password) });
    const sp = s.generic();
    const b = browser();
    const login = await b.go(await sp.getAuthorizeUrlAsync('r', undefined, {}));
    const done = await b.submit(login.body, /\/login$/, { username: 'bob', password: PushWorld.password });
    const { fields } = postedForm(done.body);
    const { profile } = await sp.validatePostResponseAsync(fields);
    expect(profile!.uid).toBe('bob');
    expect(assertionXml(fields.SAMLResponse!)).toContain(`<saml:AuthnContextClassRef>${PASSWORD_ONLY}</saml:AuthnContextClassRef>`);
  });

  it('IsPassive with no session answers NoPassive to the SP; ForceAuthn shows the login page despite a session', async () => {
    const passive = await browser().go(await s.generic({ passive: true }).getAuthorizeUrlAsync('p', undefined, {}));
    const { action, fields } = postedForm(passive.body);
    expect(action).toBe(GENERIC.acs);
    expect(assertionXml(fields.SAMLResponse!)).toContain('urn:oasis:names:tc:SAML:2.0:status:NoPassive');
    expect(assertionXml(fields.SAMLResponse!)).not.toContain('<saml:Assertion');
    const forced = await signedIn.go(await s.generic({ forceAuthn: true }).getAuthorizeUrlAsync('f', undefined, {}));
    expect(forced.url).toMatch(/\/interaction\//);
    expect(forced.body).toContain('name="password"');
  });

  it('a user who cancels at the login page: the SP hears AuthnFailed, with its InResponseTo, not a page of ours', async () => {
    const b = browser();
    const login = await b.go(await s.generic().getAuthorizeUrlAsync('c', undefined, {}));
    const done = await b.submit(login.body, /\/abort$/, {});
    const { action, fields } = postedForm(done.body);
    expect(action).toBe(GENERIC.acs);
    const xml = assertionXml(fields.SAMLResponse!);
    expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:status:AuthnFailed');
    expect(xml).toContain('InResponseTo="_');
    expect(xml).not.toContain('<saml:Assertion');
  });

  it('SP-initiated single logout: a signed LogoutRequest ends the IdP session and node-saml accepts our signed LogoutResponse', async () => {
    const sp = s.generic();
    const b = browser();
    const login = await b.go(await sp.getAuthorizeUrlAsync('r', undefined, {}));
    const done = await passwordAndPush(s, b, login);
    const { profile } = await sp.validatePostResponseAsync(postedForm(done.body).fields);
    const out = await b.go(await sp.getLogoutUrlAsync(profile!, 'bye', {}));
    expect(out.url.startsWith(`${GENERIC.slo}?SAMLResponse=`)).toBe(true);
    const query = new URL(out.url).search.slice(1);
    const result = await sp.validateRedirectAsync(Object.fromEntries(new URLSearchParams(query)), query);
    expect(result.loggedOut).toBe(true);
    // The session is gone: the next request for the SP shows the login page again.
    const again = await b.go(await sp.getAuthorizeUrlAsync('r', undefined, {}));
    expect(again.url).toMatch(/\/interaction\//);
    expect(again.body).toContain('name="password"');
  });

  // Red-team: the attacker starts a SAML sign-in, stops at the IdP's authorization URL and has the
  // victim open it; the victim's session answers at once with a code, which the victim's callback
  // (no transaction cookie) leaves unspent; the attacker opens that callback in their own browser.
  for (const door of ['IdP-initiated', 'an unsigned Microsoft 365 AuthnRequest'] as const) {
    it(`a sign-in started in one browser (${door}) and answered by another's session gives no assertion`, async () => {
      const victim = browser();
      await passwordAndPush(s, victim, await victim.go(await s.generic().getAuthorizeUrlAsync('v', undefined, {})));
      const attacker = browser();
      const started = door === 'IdP-initiated'
        ? await attacker.request('/saml/start/generic?RelayState=x')
        : await attacker.request('/saml/sso', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(await s.m365().getAuthorizeMessageAsync('rs') as Record<string, string>).toString() });
      expect(started.status).toBe(303);
      const authUrl = (await attacker.request(started.headers.get('location')!)).headers.get('location')!;
      expect(authUrl).toContain('/auth?');
      const answered = await victim.go(authUrl);
      expect(answered.url).toMatch(/\/callback\?code=/);
      const stolen = await attacker.go(answered.url);
      expect(stolen.res.status).toBe(400);
      expect(stolen.body).not.toContain('SAMLResponse');
      expect(stolen.body).toContain('another browser');
    });
  }

  // Red-team: an unsigned LogoutRequest "from" Microsoft 365 naming nobody, sent by any site through
  // a link, ended the browser's IdP session (and /account's).
  it('a LogoutRequest without our SessionIndex ends this browser\'s session only when it names its account as that SP knows it, and, unsigned, only from an SP this session signed in to', async () => {
    const b = browser();
    await passwordAndPush(s, b, await b.go(await s.generic().getAuthorizeUrlAsync('r', undefined, {})));
    const logout = (nameId: string) => {
      const xml = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l${Math.random().toString(16).slice(2)}" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${M365.entityId}</saml:Issuer><saml:NameID>${nameId}</saml:NameID></samlp:LogoutRequest>`;
      return b.request(`/saml/slo?SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}`, { headers: { referer: 'https://attacker.example/' } });
    };
    const immutableId = s.w.accountId.replace(/-/g, '');
    const signedIn = async (state: string) => postedForm((await b.go(await s.generic().getAuthorizeUrlAsync(state, undefined, {}))).body).action === GENERIC.acs;
    const forged = await logout('nobody');
    expect(forged.status).toBe(302);
    expect(forged.headers.get('location')!.startsWith(`${M365.endpoint}?SAMLResponse=`)).toBe(true);
    expect(await signedIn('r2')).toBe(true); // no login page
    // Naming the account right, but through an SP this session never signed in to (a cross-site
    // link needs no signature, and a NameID may be guessable): the session stays.
    expect((await logout(immutableId)).status).toBe(302);
    expect(await signedIn('r3')).toBe(true);
    // Once Microsoft 365 was given an assertion in this session, its unsigned logout naming the account ends it.
    const m365 = await postBinding(b, `${s.w.t.url}/saml/sso`, await s.m365().getAuthorizeMessageAsync('m') as Record<string, string>);
    expect(postedForm(m365.body).action).toBe(M365.endpoint);
    expect((await logout(immutableId)).status).toBe(302);
    const again = await b.go(await s.generic().getAuthorizeUrlAsync('r4', undefined, {}));
    expect(again.body).toContain('name="password"');
  });
});
