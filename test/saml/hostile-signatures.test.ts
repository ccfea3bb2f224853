import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DOMParser } from '@xmldom/xmldom';
import { signatureShapeProblem } from '../../src/saml/xml.js';
import { FormBrowser } from '../support/web-browser.js';
import { GENERIC, passwordAndPush, postBinding, postedForm, startSamlWorld, xmlOf, type SamlWorld } from './world.js';

/**
 * Red-team (SAML round 5). (1) A forged embedded signature with many References, each the right
 * digest of a tiny element the attacker placed (no key needed), over a few thousand empty
 * elements: xml-crypto digests every Reference, an ID search over the document each, before it
 * checks the signature, synchronously; one 800-byte deflated POST held the whole IdP for 9-33 s.
 * Now a request holds at most 200 elements, and only a signature of SAML's shape (one Reference,
 * to the root by its ID, enveloped-signature and canonicalization) reaches xml-crypto.
 * (2) ForceAuthn=" true " (a valid xs:boolean) was read as false and the old session answered.
 * (3) A LogoutRequest's SessionIndex values were looked up one by one, 1,050 of them in a row.
 */
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const EXC = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENV = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const OPEN = { entityId: 'https://open.example.test/sp', acs: 'https://open.example.test/acs' };
const rid = () => `_h${Math.random().toString(16).slice(2)}${Date.now()}`;

function reference(uri: string, transforms: string[] = [ENV, EXC]): string {
  const digest = createHash('sha256').update('<x ID="e"></x>').digest('base64');
  return `<ds:Reference URI="${uri}"><ds:Transforms>${transforms.map((t) => `<ds:Transform Algorithm="${t}"/>`).join('')}</ds:Transforms>`
    + `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>${digest}</ds:DigestValue></ds:Reference>`;
}

/** A request signed by nobody: `refs` as given, `filler` empty elements in its Extensions. */
function forged(root: 'AuthnRequest' | 'LogoutRequest', destination: string, refs: string, filler: number, id = rid()): string {
  return `<samlp:${root} xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="${DS}" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${destination}">`
    + `<saml:Issuer>${GENERIC.entityId}</saml:Issuer>`
    + `<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${EXC}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>${refs}</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>`
    + `<samlp:Extensions><x ID="e"/>${'<a/>'.repeat(filler)}</samlp:Extensions></samlp:${root}>`;
}

describe('signatures of a shape SAML does not use never reach xml-crypto', () => {
  const sig = (refs: string, c14n = EXC) => new DOMParser().parseFromString(
    `<ds:Signature xmlns:ds="${DS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${c14n}"/>${refs}</ds:SignedInfo></ds:Signature>`, 'text/xml').documentElement!;

  it('one Reference to the root by its ID, enveloped-signature and a canonicalization: accepted', () => {
    expect(signatureShapeProblem(sig(reference('#_r1')), '_r1')).toBeNull();
    expect(signatureShapeProblem(sig(reference('#_r1', [ENV])), '_r1')).toBeNull();
  });

  it.each([
    ['two References', reference('#_r1') + reference('#_r1'), /exactly one Reference/],
    ['no Reference', '', /exactly one Reference/],
    ['a Reference to another element', reference('#e'), /point at the message/],
    ['a Reference to the whole document', reference(''), /point at the message/],
    ['an XPath transform', reference('#_r1', [ENV, 'http://www.w3.org/TR/1999/REC-xpath-19991116']), /only transforms/],
    ['three transforms', reference('#_r1', [ENV, EXC, EXC]), /only transforms/],
  ])('%s: refused', (_what, refs, reason) => {
    expect(signatureShapeProblem(sig(refs), '_r1')).toMatch(reason);
  });

  it('a SignedInfo canonicalized by XSLT: refused', () => {
    expect(signatureShapeProblem(sig(reference('#_r1'), 'http://www.w3.org/TR/1999/REC-xslt-19991116'), '_r1')).toMatch(/canonicalization/);
  });
});

describe('hostile SAML requests over HTTP-POST', () => {
  let s: SamlWorld;
  const post = async (path: string, xml: string, deflate = true) => {
    const value = (deflate ? deflateRawSync(Buffer.from(xml)) : Buffer.from(xml)).toString('base64');
    const res = await fetch(`${s.w.t.url}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams({ SAMLRequest: value }).toString() });
    return { status: res.status, body: await res.text() };
  };
  beforeAll(async () => { s = await startSamlWorld({ open: { name: 'Open SP', entityId: OPEN.entityId, acs: [{ url: OPEN.acs }] } }); });
  afterAll(() => s.close());

  it('forty forged References over 3,500 elements (800 bytes deflated): refused for its size, at /saml/sso and /saml/slo', async () => {
    const sso = await post('/saml/sso', forged('AuthnRequest', `${s.w.t.url}/saml/sso`, reference('#e').repeat(40), 3500));
    expect(sso.status).toBe(413);
    expect(sso.body).toContain('more than 200 elements');
    const slo = await post('/saml/slo', forged('LogoutRequest', `${s.w.t.url}/saml/slo`, reference('#e').repeat(40), 3500));
    expect(slo.status).toBe(413);
  });

  it('many References in a small request: refused before any digest, as not a SAML signature', async () => {
    const res = await post('/saml/sso', forged('AuthnRequest', `${s.w.t.url}/saml/sso`, reference('#e').repeat(12), 10));
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'signature_invalid' });
    expect(res.body).toContain('exactly one Reference');
  });

  it('one forged Reference to an element beside the request, not the request: refused', async () => {
    const res = await post('/saml/sso', forged('AuthnRequest', `${s.w.t.url}/saml/sso`, reference('#e'), 10));
    expect(res.status).toBe(403);
    expect(res.body).toContain('point at the message');
  });

  it('a LogoutRequest naming seventeen SessionIndex values: a 400, none looked up', async () => {
    const xml = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${rid()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${s.w.t.url}/saml/slo">`
      + `<saml:Issuer>${OPEN.entityId}</saml:Issuer><saml:NameID>alice</saml:NameID>${'<samlp:SessionIndex>_s</samlp:SessionIndex>'.repeat(17)}</samlp:LogoutRequest>`;
    const res = await post('/saml/slo', xml);
    expect(res.status).toBe(400);
    expect(res.body).toContain('more than 16 SessionIndex');
  });
});

describe('ForceAuthn and IsPassive are xs:boolean', () => {
  let s: SamlWorld;
  let alice: FormBrowser;
  const authn = (extra = '') => `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${rid()}" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${OPEN.acs}"${extra}><saml:Issuer>${OPEN.entityId}</saml:Issuer></samlp:AuthnRequest>`;
  const send = (b: FormBrowser, xml: string) => postBinding(b, `${s.w.t.url}/saml/sso`, { SAMLRequest: Buffer.from(xml).toString('base64'), RelayState: 'rs' });
  beforeAll(async () => {
    s = await startSamlWorld({ open: { name: 'Open SP', entityId: OPEN.entityId, acs: [{ url: OPEN.acs }] } });
    alice = new FormBrowser(s.w.t.url);
    await passwordAndPush(s, alice, await send(alice, authn()));
  });
  afterAll(() => s.close());

  it('ForceAuthn=" true " asks for a new sign-in, as ForceAuthn="true" does; without it the session answers', async () => {
    expect((await send(alice, authn(' ForceAuthn=" true "'))).url).toMatch(/\/interaction\//);
    expect((await send(alice, authn(' ForceAuthn="1"'))).url).toMatch(/\/interaction\//);
    const plain = await send(alice, authn(' ForceAuthn=" false "'));
    expect(plain.url).not.toMatch(/\/interaction\//);
    expect(xmlOf(postedForm(plain.body).fields.SAMLResponse!)).toContain('status:Success');
  });

  it('IsPassive=" true " without a session is answered NoPassive, not with a login page', async () => {
    const answer = await send(new FormBrowser(s.w.t.url), authn(' IsPassive=" true "'));
    expect(answer.url).not.toMatch(/\/interaction\//);
    expect(xmlOf(postedForm(answer.body).fields.SAMLResponse!)).toContain('NoPassive');
  });

  it('ForceAuthn="yes", or blanks between two letters, is no xs:boolean: a 400 that says so', async () => {
    for (const value of ['yes', `x${' '.repeat(30_000)}x`]) {
      const res = await send(new FormBrowser(s.w.t.url), authn(` ForceAuthn="${value}"`));
      expect(res.res.status).toBe(400);
      expect(res.body).toContain('ForceAuthn is not an xs:boolean');
    }
  });
});
