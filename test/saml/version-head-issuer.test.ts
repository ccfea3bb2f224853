import { createVerify } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DOMParser } from '@xmldom/xmldom';
import { SAML, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { versionMismatchOf } from '../../src/saml/messages.js';
import { M365 } from '../../src/saml/sp-config.js';
import { signRedirect } from '../../src/saml/xml.js';
import { FormBrowser } from '../support/web-browser.js';
import { GENERIC, passwordAndPush, postBinding, postedForm, startSamlWorld, xmlOf, type SamlWorld } from './world.js';

/**
 * Red-team (SAML conformance round), each found and fixed:
 * (1) SAML core 4.1: a request whose Version is not "2.0" got a 400 page of ours; the SP is now
 *     answered at its registered ACS (or SLO endpoint) with the top-level status VersionMismatch,
 *     RequestVersionTooHigh / RequestVersionTooLow under it where the version can be read.
 * (2) HEAD on /saml/sso, /saml/slo and /saml/start/<sp> ran the GET handlers (@koa/router): a link
 *     scanner's HEAD used up the AuthnRequest's ID, and one carrying a SessionIndex ended the session.
 * (3) SAML profiles 4.1.4.1 / 4.4.4.1: an Issuer whose Format is not the entity format was taken.
 */
const OPEN = { entityId: 'https://open.example.test/sp', acs: 'https://open.example.test/acs', slo: 'https://open.example.test/slo' };
const NOSLO = { entityId: 'https://noslo.example.test/sp', acs: 'https://noslo.example.test/acs' };
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const ENTITY = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';
const rid = () => `_c${Math.random().toString(16).slice(2)}${Date.now()}`;
const b64 = (x: string) => Buffer.from(x).toString('base64');
const deflated = (x: string) => encodeURIComponent(deflateRawSync(Buffer.from(x)).toString('base64'));

/** An AuthnRequest; `version: null` leaves Version out. */
function authn(o: { issuer: string; acs?: string; version?: string | null; issuerFormat?: string; destination?: string; id?: string }): string {
  const version = o.version === null ? '' : ` Version="${o.version ?? '2.0'}"`;
  const format = o.issuerFormat ? ` Format="${o.issuerFormat}"` : '';
  return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? rid()}"${version} IssueInstant="${new Date().toISOString()}"`
    + `${o.destination ? ` Destination="${o.destination}"` : ''}${o.acs ? ` AssertionConsumerServiceURL="${o.acs}"` : ''}><saml:Issuer${format}>${o.issuer}</saml:Issuer></samlp:AuthnRequest>`;
}

function logoutRequest(o: { issuer: string; nameId: string; sessionIndex?: string; version?: string; issuerFormat?: string; id?: string }): string {
  const format = o.issuerFormat ? ` Format="${o.issuerFormat}"` : '';
  return `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? rid()}" Version="${o.version ?? '2.0'}" IssueInstant="${new Date().toISOString()}">`
    + `<saml:Issuer${format}>${o.issuer}</saml:Issuer><saml:NameID>${o.nameId}</saml:NameID>${o.sessionIndex ? `<samlp:SessionIndex>${o.sessionIndex}</samlp:SessionIndex>` : ''}</samlp:LogoutRequest>`;
}

/** The top-level StatusCode of a Response or LogoutResponse and the one under it (null: none). */
function statusOf(xml: string): { top: string | null; second: string | null; inResponseTo: string | null; assertion: boolean } {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const root = doc.documentElement!;
  const status = Array.from(root.childNodes).find((n) => (n as Element).localName === 'Status') as Element | undefined;
  const top = status ? Array.from(status.childNodes).find((n) => (n as Element).localName === 'StatusCode') as Element | undefined : undefined;
  const second = top ? Array.from(top.childNodes).find((n) => (n as Element).localName === 'StatusCode') as Element | undefined : undefined;
  return {
    top: top?.getAttribute('Value') ?? null,
    second: second?.getAttribute('Value') ?? null,
    inResponseTo: root.getAttribute('InResponseTo'),
    assertion: xml.includes('Assertion'),
  };
}

describe('versionMismatchOf (SAML core 4.1)', () => {
  it('"2.0" is no mismatch; a higher or lower number says so; missing, unreadable or "2.00" is VersionMismatch alone', () => {
    expect(versionMismatchOf('2.0')).toBeNull();
    for (const v of ['2.1', '3.0', '2.01', '10.0']) expect(versionMismatchOf(v)).toEqual({ detail: 'RequestVersionTooHigh' });
    for (const v of ['1.1', '1.0', '0.9']) expect(versionMismatchOf(v)).toEqual({ detail: 'RequestVersionTooLow' });
    for (const v of [null, '', 'two', ' 2.0', '2.00', '2', '2.0.1']) expect(versionMismatchOf(v)).toEqual({ detail: null });
  });
});

describe('SAML conformance: Version, HEAD and the Issuer Format', () => {
  let s: SamlWorld;
  const url = (p: string) => `${s.w.t.url}${p}`;
  /** node-saml playing the open SP (unsigned requests, a signed response wanted). */
  const openSp = (extra: Partial<SamlConfig> = {}) => new SAML({
    entryPoint: url('/saml/sso'), logoutUrl: url('/saml/slo'), idpCert: s.idpCert, issuer: OPEN.entityId, callbackUrl: OPEN.acs, audience: OPEN.entityId,
    idpIssuer: url('/saml/metadata'), wantAssertionsSigned: true, wantAuthnResponseSigned: true, validateInResponseTo: ValidateInResponseTo.never,
    identifierFormat: PERSISTENT, disableRequestedAuthnContext: true, authnRequestBinding: 'HTTP-POST', acceptedClockSkewMs: 5000, ...extra,
  } as SamlConfig);
  async function refused(res: Response, status: number, code: string) {
    const body = await res.text();
    expect({ status: res.status, code: /<code>([a-z_]+)<\/code>/.exec(body)?.[1] }).toEqual({ status, code });
    expect(res.headers.get('location')).toBeNull();
    expect(body).not.toContain('SAMLResponse');
  }
  const postSso = (fields: Record<string, string>) => fetch(url('/saml/sso'), {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: new URLSearchParams(fields).toString(),
  });

  beforeAll(async () => {
    s = await startSamlWorld({
      open: { name: 'Open SP', entityId: OPEN.entityId, acs: [{ url: OPEN.acs }], slo: { url: OPEN.slo, binding: 'HTTP-POST' }, nameIdFormat: 'persistent', idpInitiated: true },
      noslo: { name: 'No SLO SP', entityId: NOSLO.entityId, acs: [{ url: NOSLO.acs }], nameIdFormat: 'persistent' },
    });
  }, 90_000);
  afterAll(() => s.close());

  describe('(1) a request of another Version', () => {
    it.each([
      ['"2.1"', 'RequestVersionTooHigh', '2.1'],
      ['"3.0"', 'RequestVersionTooHigh', '3.0'],
      ['"1.1"', 'RequestVersionTooLow', '1.1'],
      ['missing', 'none', null],
      ['"two"', 'none', 'two'],
    ])('Version %s: a signed VersionMismatch Response at the registered ACS (second level: %s), node-saml reads the status', async (_label, level, version) => {
      const detail = level === 'none' ? null : level;
      const second = detail && `${STATUS}${detail}`;
      const id = rid();
      const page = await postBinding(new FormBrowser(s.w.t.url), url('/saml/sso'), { SAMLRequest: b64(authn({ issuer: OPEN.entityId, acs: OPEN.acs, version, id })), RelayState: 'keep-me' });
      const { action, fields } = postedForm(page.body);
      expect(action).toBe(OPEN.acs);
      expect(fields.RelayState).toBe('keep-me');
      expect(statusOf(xmlOf(fields.SAMLResponse!))).toEqual({ top: `${STATUS}VersionMismatch`, second, inResponseTo: id, assertion: false });
      // The SP's library checks our signature (wantAuthnResponseSigned) and then reports the status.
      await expect(openSp().validatePostResponseAsync(fields)).rejects.toThrow(`SAML provider returned VersionMismatch error: ${detail ?? 'unspecified'}`);
    });

    it('a signed request (HTTP-Redirect) of Version 2.1 from the SP that signs: VersionMismatch at its ACS; unsigned or unregistered ACS: refused as before', async () => {
      const id = rid();
      const q = signRedirect({ name: 'SAMLRequest', value: deflateRawSync(Buffer.from(authn({ issuer: GENERIC.entityId, version: '2.1', destination: url('/saml/sso'), id }))).toString('base64'), relayState: 'r' }, s.spKey.privateKey);
      const page = await new FormBrowser(s.w.t.url).go(`${url('/saml/sso')}?${q}`);
      const { action, fields } = postedForm(page.body);
      expect(action).toBe(GENERIC.acs);
      expect(statusOf(xmlOf(fields.SAMLResponse!))).toEqual({ top: `${STATUS}VersionMismatch`, second: `${STATUS}RequestVersionTooHigh`, inResponseTo: id, assertion: false });
      await expect(s.generic({ validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync(fields)).rejects.toThrow('VersionMismatch error: RequestVersionTooHigh');
      // The signature rules come first, as for any request: unsigned from the SP that signs is a 403.
      await refused(await postSso({ SAMLRequest: b64(authn({ issuer: GENERIC.entityId, version: '3.0' })) }), 403, 'signature_required');
      // No registered ACS to answer at: a 400, nothing posted anywhere.
      await refused(await postSso({ SAMLRequest: b64(authn({ issuer: OPEN.entityId, acs: 'https://evil.example/acs', version: '3.0' })) }), 400, 'acs_not_registered');
    });

    it('a LogoutRequest of Version 1.1: VersionMismatch to the SP\'s SLO endpoint, the session not ended; with no SLO endpoint, a 400', async () => {
      const b = new FormBrowser(s.w.t.url);
      const m365 = s.m365();
      const login = await postBinding(b, url('/saml/sso'), await m365.getAuthorizeMessageAsync('m') as Record<string, string>);
      expect(postedForm((await passwordAndPush(s, b, login)).body).action).toBe(M365.endpoint);
      const id = rid();
      const immutableId = s.w.accountId.replace(/-/g, '');
      // With Version 2.0 this request ends the session (sso.test.ts); of Version 1.1 it ends nothing.
      const out = await b.request(`/saml/slo?SAMLRequest=${deflated(logoutRequest({ issuer: M365.entityId, nameId: immutableId, version: '1.1', id }))}&RelayState=bye`);
      expect(out.status).toBe(302);
      const location = new URL(out.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(M365.endpoint);
      const xml = inflateRawSync(Buffer.from(location.searchParams.get('SAMLResponse')!, 'base64')).toString();
      expect(xml).toContain('<samlp:LogoutResponse');
      expect(statusOf(xml)).toEqual({ top: `${STATUS}VersionMismatch`, second: `${STATUS}RequestVersionTooLow`, inResponseTo: id, assertion: false });
      // Signed by the IdP, over the query as sent (HTTP-Redirect binding).
      const signedPart = location.search.slice(1).replace(/&Signature=.*$/, '');
      expect(createVerify('RSA-SHA256').update(signedPart).verify(`-----BEGIN CERTIFICATE-----\n${s.idpCert}\n-----END CERTIFICATE-----`, location.searchParams.get('Signature')!, 'base64')).toBe(true);
      // Microsoft's side, played by node-saml: the answer is not a Success.
      await expect(s.m365().validateRedirectAsync(Object.fromEntries(location.searchParams), location.search.slice(1))).rejects.toThrow(`Bad status code: ${STATUS}VersionMismatch`);
      // Still signed in: the next Microsoft 365 request is answered without a login page.
      const again = await postBinding(b, url('/saml/sso'), await m365.getAuthorizeMessageAsync('m2') as Record<string, string>);
      expect(postedForm(again.body).action).toBe(M365.endpoint);
      // An SP with no SLO endpoint cannot be answered: a 400, as before.
      await refused(await b.request(`/saml/slo?SAMLRequest=${deflated(logoutRequest({ issuer: NOSLO.entityId, nameId: 'x', version: '1.1' }))}`), 400, 'malformed');
    });
  });

  describe('(2) HEAD on the endpoints that act', () => {
    it('HEAD /saml/sso: 405 with Allow, and the GET that follows still takes the request (its ID was not used up)', async () => {
      const sso = `${url('/saml/sso')}?SAMLRequest=${deflated(authn({ issuer: OPEN.entityId, acs: OPEN.acs }))}&RelayState=h`;
      const head = await fetch(sso, { method: 'HEAD', redirect: 'manual', headers: { accept: 'text/html' } });
      expect({ status: head.status, allow: head.headers.get('allow'), location: head.headers.get('location') }).toEqual({ status: 405, allow: 'GET, POST', location: null });
      expect(head.headers.getSetCookie()).toEqual([]);
      expect(head.headers.get('cache-control')).toBe('no-store'); // the edge's refusal
      const get = await fetch(sso, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(get.status).toBe(303);
      expect(get.headers.get('location')).toBe('/saml/sp/open/login');
    });

    it('HEAD /saml/slo with the SP\'s SessionIndex: 405 with Allow, and the IdP session is still there', async () => {
      const b = new FormBrowser(s.w.t.url);
      const sp = openSp();
      const done = await passwordAndPush(s, b, await postBinding(b, url('/saml/sso'), await sp.getAuthorizeMessageAsync('h') as Record<string, string>));
      const { profile } = await sp.validatePostResponseAsync(postedForm(done.body).fields);
      const slo = `/saml/slo?SAMLRequest=${deflated(logoutRequest({ issuer: OPEN.entityId, nameId: profile!.nameID, sessionIndex: profile!.sessionIndex! }))}`;
      const head = await b.request(slo, { method: 'HEAD' });
      expect({ status: head.status, allow: head.headers.get('allow') }).toEqual({ status: 405, allow: 'GET, POST' });
      // Signed in still: a new request for the SP is answered at its ACS at once, with no login page.
      const again = await postBinding(b, url('/saml/sso'), await sp.getAuthorizeMessageAsync('h2') as Record<string, string>);
      expect(postedForm(again.body).action).toBe(OPEN.acs);
      // The GET of the same logout still works (its ID was not used up) and ends the session.
      const out = await b.go(slo);
      expect(postedForm(out.body).action).toBe(OPEN.slo);
      expect(statusOf(xmlOf(postedForm(out.body).fields.SAMLResponse!)).top).toBe(`${STATUS}Success`);
      const after = await postBinding(b, url('/saml/sso'), await sp.getAuthorizeMessageAsync('h3') as Record<string, string>);
      expect(after.body).toContain('name="password"');
    });

    it('HEAD /saml/start/<sp>: 405 with Allow: GET, nothing started', async () => {
      const head = await fetch(url('/saml/start/open?RelayState=x'), { method: 'HEAD', redirect: 'manual', headers: { accept: 'text/html' } });
      expect({ status: head.status, allow: head.headers.get('allow'), location: head.headers.get('location') }).toEqual({ status: 405, allow: 'GET', location: null });
      expect(head.headers.getSetCookie()).toEqual([]);
      expect((await fetch(url('/saml/start/open?RelayState=x'), { redirect: 'manual' })).status).toBe(303);
    });

    it.each(['/saml/sp/open/callback', '/demo/callback', '/account/callback'])('HEAD %s (a sign-in\'s return, which exchanges its code): 405 with Allow: GET', async (path) => {
      // Review: a HEAD ran the GET handler, which would exchange the code and finish the sign-in unseen.
      const head = await fetch(url(`${path}?code=abc&state=def`), { method: 'HEAD', redirect: 'manual', headers: { accept: 'text/html' } });
      expect({ status: head.status, allow: head.headers.get('allow') }).toEqual({ status: 405, allow: 'GET' });
    });
  });

  describe('(3) the Issuer\'s Format', () => {
    it('an AuthnRequest whose Issuer has Format persistent is refused (400 malformed); the entity format or none is taken', async () => {
      await refused(await postSso({ SAMLRequest: b64(authn({ issuer: OPEN.entityId, acs: OPEN.acs, issuerFormat: PERSISTENT })) }), 400, 'malformed');
      expect((await postSso({ SAMLRequest: b64(authn({ issuer: OPEN.entityId, acs: OPEN.acs, issuerFormat: ENTITY })) })).status).toBe(303);
      expect((await postSso({ SAMLRequest: b64(authn({ issuer: OPEN.entityId, acs: OPEN.acs })) })).status).toBe(303);
      // Signed and verified does not make it right.
      const q = signRedirect({ name: 'SAMLRequest', value: deflateRawSync(Buffer.from(authn({ issuer: GENERIC.entityId, issuerFormat: PERSISTENT, destination: url('/saml/sso') }))).toString('base64') }, s.spKey.privateKey);
      await refused(await fetch(`${url('/saml/sso')}?${q}`, { redirect: 'manual', headers: { accept: 'text/html' } }), 400, 'malformed');
    });

    it('a LogoutRequest whose Issuer has Format persistent is refused (400 malformed), and ends nothing', async () => {
      const b = new FormBrowser(s.w.t.url);
      const sp = openSp();
      const done = await passwordAndPush(s, b, await postBinding(b, url('/saml/sso'), await sp.getAuthorizeMessageAsync('i') as Record<string, string>));
      const { profile } = await sp.validatePostResponseAsync(postedForm(done.body).fields);
      const lr = logoutRequest({ issuer: OPEN.entityId, issuerFormat: PERSISTENT, nameId: profile!.nameID, sessionIndex: profile!.sessionIndex! });
      await refused(await b.request(`/saml/slo?SAMLRequest=${deflated(lr)}`), 400, 'malformed');
      const again = await postBinding(b, url('/saml/sso'), await sp.getAuthorizeMessageAsync('i2') as Record<string, string>);
      expect(postedForm(again.body).action).toBe(OPEN.acs);
    });
  });
});
