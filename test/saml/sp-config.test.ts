import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createAppRegistry } from '../../src/apps/registry.js';
import { DEFAULT_ACR } from '../../src/config/clients.js';
import { ConfigError } from '../../src/config/settings.js';
import { createSamlSigningKey } from '../../src/saml/keys.js';
import { allowedOutcomes, answeredClass } from '../../src/saml/authn-context.js';
import { immutableIdOf, subjectFor } from '../../src/saml/identity.js';
import { loadServiceProviders, M365, parseServiceProvider } from '../../src/saml/sp-config.js';

/** SAML service providers as files under config/saml/: what an admin writes, and what stops the start. */
describe('SAML service provider files', () => {
  const noMetadata = () => { throw new Error('no metadata'); };
  const parse = (raw: unknown, file = '/cfg/saml/app.json', readMetadata: (n: string) => string = noMetadata) => parseServiceProvider(file, raw, readMetadata);
  const refusal = (raw: unknown, file?: string) => {
    try {
      parse(raw, file);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };
  const minimal = { entityId: 'https://sp.example/md', acs: [{ url: 'https://sp.example/acs' }] };

  it('a minimal SP gets safe defaults: signed assertions and responses, persistent NameID, implicit consent, no IdP-initiated', () => {
    const sp = parse(minimal);
    expect(sp).toMatchObject({
      id: 'app', name: 'https://sp.example/md', wantAssertionsSigned: true, wantResponseSigned: true, requestsSigned: false,
      nameIdFormat: 'persistent', nameIdSource: 'accountId', idpInitiated: false,
      policy: { form: 'two-step', numberMatching: true, noDevice: 'password-only', consent: 'implicit', acr: DEFAULT_ACR },
    });
  });

  it('names the file and the field of each mistake', () => {
    expect(refusal({ acs: minimal.acs })).toMatch(/app\.json.*entityId.*required/);
    expect(refusal({ entityId: 'x' })).toMatch(/acs/);
    expect(refusal({ ...minimal, acs: [{ url: 'not a url' }] })).toMatch(/acs\.0\.url.*absolute/);
    expect(refusal({ ...minimal, acs: [{ url: 'https://a', binding: 'HTTP-Redirect' }] })).toMatch(/acs\.0\.binding/);
    expect(refusal({ ...minimal, entityID: 'typo' })).toMatch(/entityID.*unknown field/);
    expect(refusal({ ...minimal, requestsSigned: true })).toMatch(/certificate.*required when requestsSigned/);
    expect(refusal({ ...minimal, certificate: 'not a certificate' })).toMatch(/certificate.*not an X\.509/);
    expect(refusal({ ...minimal, nameIdFormat: 'transient' })).toMatch(/nameIdFormat/);
    expect(refusal({ ...minimal, attributes: { mail: 'mobile' } })).toMatch(/attributes\.mail/);
    expect(refusal({ ...minimal, login: { noDevice: 'maybe' } })).toMatch(/login\.noDevice/);
    expect(refusal({ ...minimal, name: 'HR \u202Eelbuod' })).toMatch(/name.*bidi/);
    expect(refusal({ ...minimal, login: { numberMatch: true } })).toMatch(/login\.numberMatch.*unknown field/);
    expect(refusal({ ...minimal, login: { form: 'single-form', autoPush: true } })).toMatch(/login\.autoPush.*two-step form only/);
    expect(refusal(minimal, '/cfg/saml/Bad Name.json')).toMatch(/file name/);
    expect(refusal({ entityId: M365.entityId, acs: minimal.acs })).toMatch(/microsoft365/);
    expect(refusal({ profile: 'microsoft365', nameIdFormat: 'emailAddress' })).toMatch(/persistent/);
    // SAML core 8.3.7 (red-team, samlify round): a persistent NameID no one can tie to the user.
    for (const nameIdSource of ['username', 'email', 'displayName', 'upn']) {
      expect(refusal({ ...minimal, nameIdFormat: 'persistent', nameIdSource })).toMatch(/nameIdSource: a persistent NameID is the account id/);
    }
  });

  it('the microsoft365 profile fills in what Microsoft 365 expects', () => {
    const sp = parse({ profile: 'microsoft365', issuer: 'https://idp.example/saml/contoso' }, '/cfg/saml/m365.json');
    expect(sp).toMatchObject({
      entityId: M365.entityId, acs: [{ url: M365.endpoint, index: 0 }], slo: { url: M365.endpoint, binding: 'HTTP-Redirect' },
      nameIdFormat: 'persistent', nameIdSource: 'immutableId', attributes: { IDPEmail: 'upn' }, wantAssertionsSigned: true, wantResponseSigned: false,
      authnContext: { mfa: M365.mfaClassRef }, issuer: 'https://idp.example/saml/contoso', name: 'Microsoft 365', idpInitiated: false,
    });
  });

  it('reads SP metadata XML; the file\'s own fields win', async () => {
    const { certificate } = await createSamlSigningKey('sp.example');
    const xml = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example/md">
      <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
        <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo"/>
        <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
        <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example/artifact" index="0"/>
        <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1" isDefault="true"/>
      </md:SPSSODescriptor></md:EntityDescriptor>`;
    const sp = parse({ metadataFile: 'sp.xml', name: 'From metadata' }, '/cfg/saml/meta.json', (n) => { expect(n).toBe('sp.xml'); return xml; });
    expect(sp).toMatchObject({
      name: 'From metadata', entityId: 'https://sp.example/md', acs: [{ url: 'https://sp.example/acs', index: 1, isDefault: true }],
      slo: { url: 'https://sp.example/slo', binding: 'HTTP-Redirect' }, certificates: [certificate], requestsSigned: true,
      nameIdFormat: 'emailAddress', nameIdSource: 'email',
    });
    expect(() => parse({ metadataFile: 'x.xml' }, '/cfg/saml/m.json', () => `<!DOCTYPE x><x/>`)).toThrow(/metadataFile/);
  });

  it('metadata listing several NameID formats: the first one this IdP gives', () => {
    const md = (formats: string[]) => `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp3.example/md">
      <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${formats.map((f) => `<md:NameIDFormat>${f}</md:NameIDFormat>`).join('')}
        <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp3.example/acs"/>
      </md:SPSSODescriptor></md:EntityDescriptor>`;
    const formatOf = (formats: string[]) => parse({ metadataFile: 'sp3.xml' }, '/cfg/saml/meta3.json', () => md(formats)).nameIdFormat;
    const f = (name: string) => `urn:oasis:names:tc:SAML:${name}`;
    expect(formatOf([f('2.0:nameid-format:transient'), f('1.1:nameid-format:emailAddress')])).toBe('emailAddress');
    expect(formatOf([f('1.1:nameid-format:unspecified'), f('1.1:nameid-format:emailAddress')])).toBe('unspecified');
    expect(formatOf([f('2.0:nameid-format:transient')])).toBe('persistent'); // none given: the default
  });

  // SAML metadata 2.4.1.1: a KeyDescriptor without `use` serves signing and encryption both, so its
  // certificate verifies the SP's requests; ACS entries without an index are numbered by position.
  it('reads metadata whose KeyDescriptor has no use and whose ACS entries carry no index', async () => {
    const { certificate } = await createSamlSigningKey('sp2.example');
    const xml = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp2.example/md">
      <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        <md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
        <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp2.example/acs-a"/>
        <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp2.example/acs-b"/>
      </md:SPSSODescriptor></md:EntityDescriptor>`;
    const sp = parse({ metadataFile: 'sp2.xml' }, '/cfg/saml/meta2.json', () => xml);
    expect(sp.certificates).toEqual([certificate]);
    expect(sp.acs.map((a) => [a.url, a.index])).toEqual([['https://sp2.example/acs-a', 0], ['https://sp2.example/acs-b', 1]]);
  });

  it('loads a folder: sorted, duplicates refused, the shipped examples are valid once copied', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'saml-sps-'));
    try {
      for (const example of ['example-sp', 'microsoft365']) {
        const raw = JSON.parse(readFileSync(path.resolve(`config/saml/${example}.json.example`), 'utf8')) as Record<string, unknown>;
        if (example === 'example-sp') delete raw.certificate, delete raw.requestsSigned;
        writeFileSync(path.join(dir, `${example}.json`), JSON.stringify(raw));
      }
      expect(loadServiceProviders(dir).map((sp) => sp.id)).toEqual(['example-sp', 'microsoft365']);
      writeFileSync(path.join(dir, 'zz-copy.json'), JSON.stringify({ profile: 'microsoft365' }));
      expect(() => loadServiceProviders(dir)).toThrow(/already registered by .*microsoft365\.json/);
      writeFileSync(path.join(dir, 'zz-copy.json'), '{ not json');
      expect(() => loadServiceProviders(dir)).toThrow(/zz-copy\.json.*not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(loadServiceProviders('/nonexistent/saml')).toEqual([]);
  });
});

describe('the registry of relying apps', () => {
  it('lists OIDC clients and SAML SPs with the same LoginPolicy, and maps each SP to its internal client', () => {
    const sp = parseServiceProvider('/cfg/saml/hr.json', { name: 'HR', entityId: 'https://hr.example', acs: [{ url: 'https://hr.example/acs' }], login: { noDevice: 'refuse', numberMatching: false } }, () => '');
    const oidcPolicy = { form: 'single-form' as const, numberMatching: true, noDevice: 'refuse' as const, consent: 'explicit' as const, acr: { ...DEFAULT_ACR } };
    const apps = createAppRegistry([
      { file: 'a.json', metadata: { client_id: 'wiki', client_name: 'Wiki' }, login: oidcPolicy },
      { file: 'hr.json', metadata: { client_id: 'saml.hr', client_name: 'HR' }, login: sp.policy },
    ], [sp]);
    expect(apps.list().map((a) => [a.protocol, a.id, a.name, a.clientId])).toEqual([['oidc', 'wiki', 'Wiki', 'wiki'], ['saml', 'hr', 'HR', 'saml.hr']]);
    expect(apps.get('saml', 'hr')!.policy).toEqual({ form: 'two-step', numberMatching: false, noDevice: 'refuse', consent: 'implicit', acr: DEFAULT_ACR });
    expect(apps.byClientId('saml.hr')!.protocol).toBe('saml');
    expect(apps.byClientId('wiki')!.policy).toBe(oidcPolicy);
    expect(apps.get('oidc', 'saml.hr')).toBeNull();
  });
});

const EITHER = { password: true, mfa: true };

describe('what an SP is told about the user', () => {
  const account = { id: '3f0c5a1e-8d2b-4c6e-9a7f-1b2c3d4e5f60', username: 'alice', email: 'alice@contoso.example', displayName: 'Alice A' };
  const sp = (extra: Record<string, unknown>) => parseServiceProvider('/cfg/saml/app.json', { entityId: 'https://sp', acs: [{ url: 'https://sp/acs' }], ...extra }, () => '');

  it('NameID per format: persistent = account id, emailAddress = e-mail, unspecified = username; Microsoft 365 = the ImmutableID', () => {
    expect(subjectFor(sp({ nameIdFormat: 'persistent' }), account).nameId).toBe(account.id);
    expect(subjectFor(sp({ nameIdFormat: 'emailAddress' }), account).nameId).toBe('alice@contoso.example');
    expect(subjectFor(sp({ nameIdFormat: 'unspecified' }), account).nameId).toBe('alice');
    const m365 = parseServiceProvider('/cfg/saml/m365.json', { profile: 'microsoft365' }, () => '');
    expect(subjectFor(m365, account)).toEqual({ nameId: '3f0c5a1e8d2b4c6e9a7f1b2c3d4e5f60', attributes: [['IDPEmail', 'alice@contoso.example']] });
    expect(immutableIdOf(account.id)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('attributes follow the SP\'s map; a value the account lacks is left out, and an e-mail NameID without an e-mail is none', () => {
    const mapped = sp({ nameIdFormat: 'emailAddress', attributes: { mail: 'email', cn: 'displayName', upn: 'upn' } });
    expect(subjectFor(mapped, account).attributes).toEqual([['mail', 'alice@contoso.example'], ['cn', 'Alice A'], ['upn', 'alice@contoso.example']]);
    expect(subjectFor(mapped, { ...account, email: null })).toEqual({ nameId: null, attributes: [['cn', 'Alice A'], ['upn', 'alice']] });
  });

  it('the AuthnContextClassRef says MFA only when the sign-in\'s amr holds mfa', () => {
    const generic = sp({});
    expect(answeredClass(generic, ['pwd', 'otp', 'swk', 'mfa'], EITHER)).toBe('https://refeds.org/profile/mfa');
    expect(answeredClass(generic, ['pwd'], EITHER)).toBe('urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport');
    expect(answeredClass(sp({ authnContext: { mfa: 'urn:x:mfa', password: 'urn:x:pwd' } }), ['pwd', 'otp', 'mfa'], EITHER)).toBe('urn:x:mfa');
  });

  // SAML core 3.3.2.2.1 (red-team: an SP that asked for MFA got a Success with the password class).
  it('RequestedAuthnContext: what each comparison accepts, and what the answer then says', () => {
    const generic = sp({});
    const m365 = parseServiceProvider('/cfg/saml/m365.json', { profile: 'microsoft365' }, () => '');
    const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
    const REFEDS = 'https://refeds.org/profile/mfa';
    const MULTIPLE = 'http://schemas.microsoft.com/claims/multipleauthn';
    const allowed = (classes: string[], comparison: 'exact' | 'minimum' | 'maximum' | 'better', target = generic) => allowedOutcomes(target, { classes, comparison });
    expect(allowedOutcomes(generic, null)).toEqual(EITHER);
    expect(allowed([REFEDS], 'exact')).toEqual({ password: false, mfa: true, named: { mfa: REFEDS } });
    expect(allowed([MULTIPLE], 'exact', m365)).toEqual({ password: false, mfa: true, named: { mfa: MULTIPLE } });
    expect(allowed([PPT], 'exact')).toEqual({ ...EITHER, named: { password: PPT }, capped: true });
    expect(allowed([PPT, REFEDS], 'exact')).toEqual({ ...EITHER, named: { password: PPT, mfa: REFEDS } });
    expect(allowed([PPT], 'minimum')).toEqual(EITHER);
    expect(allowed([PPT], 'better')).toEqual({ password: false, mfa: true });
    expect(allowed([REFEDS], 'better')).toEqual({ password: false, mfa: false });
    expect(allowed([REFEDS], 'maximum')).toEqual(EITHER);
    const UNSPECIFIED = 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified';
    expect(allowed([UNSPECIFIED], 'exact')).toEqual({ ...EITHER, named: { password: UNSPECIFIED, mfa: UNSPECIFIED } });
    // "exact" naming `unspecified`: a sign-in whose own class was not named is answered `unspecified`,
    // never a class the request did not name (red-team, node-saml as the SP: the SP's MFA class came back).
    expect(answeredClass(generic, ['pwd', 'otp', 'swk', 'mfa'], allowed([UNSPECIFIED], 'exact'))).toBe(UNSPECIFIED);
    expect(answeredClass(generic, ['pwd'], allowed([UNSPECIFIED], 'exact'))).toBe(UNSPECIFIED);
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed(['urn:oasis:names:tc:SAML:2.0:ac:classes:Password', UNSPECIFIED], 'exact'))).toBe(UNSPECIFIED);
    expect(answeredClass(generic, ['pwd'], allowed(['urn:oasis:names:tc:SAML:2.0:ac:classes:Password', UNSPECIFIED], 'exact'))).toBe('urn:oasis:names:tc:SAML:2.0:ac:classes:Password');
    expect(answeredClass(generic, ['pwd'], allowed([REFEDS, UNSPECIFIED], 'exact'))).toBe(UNSPECIFIED);
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed([REFEDS, UNSPECIFIED], 'exact'))).toBe(REFEDS);
    // Under "minimum", unspecified takes every class: MFA says MFA, as before.
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed([UNSPECIFIED], 'minimum'))).toBe(REFEDS);
    expect(allowed(['urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos'], 'minimum')).toEqual({ password: false, mfa: false });
    expect(allowed([PPT, 'decl:urn:x'], 'exact')).toEqual({ ...EITHER, named: { password: PPT }, capped: true });
    expect(allowed(['decl:urn:x'], 'exact')).toEqual({ password: false, mfa: false });
    // MFA asked: a password-only sign-in has nothing to say (NoAuthnContext).
    expect(answeredClass(generic, ['pwd'], { password: false, mfa: true })).toBeNull();
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], { password: false, mfa: true })).toBe(REFEDS);
    // "exact" is answered with the class named, where one of the sign-in's rank was named (red-team).
    const PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Password';
    const custom = sp({ authnContext: { mfa: 'urn:x:mfa', password: PPT } });
    expect(answeredClass(generic, ['pwd'], allowed([PASSWORD], 'exact'))).toBe(PASSWORD);
    expect(answeredClass(custom, ['pwd', 'otp', 'mfa'], allowed([REFEDS], 'exact', custom))).toBe(REFEDS);
    expect(answeredClass(custom, ['pwd', 'otp', 'mfa'], allowed([REFEDS], 'minimum', custom))).toBe('urn:x:mfa');
    // An MFA sign-in asked for exactly, or at most, a password class says that class (it did prove the
    // password; an MFA class would break "exact" and "maximum"), as docs/saml.md tells.
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed([PASSWORD], 'exact'))).toBe(PASSWORD);
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed([PPT], 'maximum'))).toBe(PPT);
    expect(allowed([PPT], 'maximum')).toEqual({ ...EITHER, capped: true });
    // With an MFA class among those named, or an open comparison, MFA is what it says.
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed([PPT, REFEDS], 'exact'))).toBe(REFEDS);
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed([PPT], 'minimum'))).toBe(REFEDS);
    expect(answeredClass(generic, ['pwd', 'otp', 'mfa'], allowed([REFEDS], 'maximum'))).toBe(REFEDS);
  });
});
