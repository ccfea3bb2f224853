import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { SAML, type SamlConfig } from '@node-saml/node-saml';
import { FormBrowser } from '../support/web-browser.js';
import { M365_ISSUER_URI, passwordAndPush, postedForm, startSamlWorld, xmlOf, type SamlWorld } from './world.js';

const SP = { entityId: 'https://plain-sp.example.test/metadata', acs: 'https://plain-sp.example.test/acs' };

/**
 * An SP registered with the least file (entity ID and ACS) and wired with node-saml's own defaults
 * (a signed Response and a signed assertion wanted, no clock skew allowed) signs in. Red-team (SP
 * libraries): our Response was unsigned by default, so node-saml's default refused every answer
 * ("Invalid document signature"); NotBefore was the very IssueInstant, so an SP clock a second
 * behind refused it; attributes carried no NameFormat.
 */
describe('SAML: an SP with node-saml\'s defaults and a minimal SP file', () => {
  let s: SamlWorld;
  beforeAll(async () => { s = await startSamlWorld({ plain: { entityId: SP.entityId, acs: [{ url: SP.acs }] } }); });
  afterAll(() => s.close());

  // Only what node-saml cannot work without, and the NameID format of the file's default.
  const plainSp = () => new SAML({
    entryPoint: `${s.w.t.url}/saml/sso`, idpCert: s.idpCert, issuer: SP.entityId, callbackUrl: SP.acs, audience: SP.entityId,
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  } as SamlConfig);

  it('the answer passes node-saml\'s default checks, also on an SP clock 30 seconds behind; attributes say their NameFormat', async () => {
    const b = new FormBrowser(s.w.t.url);
    const sp = plainSp();
    const done = await passwordAndPush(s, b, await b.go(await sp.getAuthorizeUrlAsync('r', undefined, {})));
    const { fields, action } = postedForm(done.body);
    expect(action).toBe(SP.acs);
    const xml = xmlOf(fields.SAMLResponse!);
    expect(xml).toMatch(/^<samlp:Response[^>]*>.*<ds:Signature/s);
    const issued = Date.parse(/<saml:Assertion [^>]*IssueInstant="([^"]+)"/.exec(xml)![1]!);
    const notBefore = Date.parse(/<saml:Conditions NotBefore="([^"]+)"/.exec(xml)![1]!);
    expect(issued - notBefore).toBe(60_000);
    expect(xml).toContain('<saml:Attribute Name="displayName" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">');

    jest.useFakeTimers({ now: Date.now() - 30_000, doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
    try {
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: fields.SAMLResponse! });
      expect(profile?.nameID).toBeTruthy();
    } finally {
      jest.useRealTimers();
    }
  });

  it('each SP has its own metadata URL saying whether its requests must be signed, its Issuer and its NameID format', async () => {
    const read = async (p: string) => { const r = await fetch(`${s.w.t.url}${p}`); return { status: r.status, type: r.headers.get('content-type'), xml: await r.text() }; };
    const shared = await read('/saml/metadata');
    expect(shared.xml).toContain('WantAuthnRequestsSigned="false"');
    const generic = await read('/saml/metadata/generic'); // its file says requestsSigned: true (samlify insists the two agree)
    expect(generic.type).toMatch(/^application\/samlmetadata\+xml/);
    expect(generic.xml).toContain('WantAuthnRequestsSigned="true"');
    expect(generic.xml).toContain(`entityID="${s.w.t.url}/saml/metadata"`);
    expect([...generic.xml.matchAll(/<md:NameIDFormat>([^<]+)</g)].map((m) => m[1])).toEqual(['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent']);
    const plain = await read('/saml/metadata/plain');
    expect(plain.xml).toContain('WantAuthnRequestsSigned="false"');
    const m365 = await read('/saml/metadata/m365');
    expect(m365.xml).toContain(`entityID="${M365_ISSUER_URI}"`);
    const unknown = await read('/saml/metadata/nobody');
    expect(unknown.status).toBe(404);
  });
});
