import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAML, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { createSamlSigningKey, type SamlSigningKey } from '../../src/saml/keys.js';
import { M365 } from '../../src/saml/sp-config.js';
import { expect } from '@jest/globals';
import { enroll, newestChallenge, pushStatus, sendPush, startWorld } from '../signin/helpers.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import type { FormBrowser } from '../support/web-browser.js';

/**
 * A SAML world: the IdP with two registered service providers (a generic one that signs its
 * requests and wants signed responses, and the Microsoft 365 profile), push world around it, and
 * @node-saml/node-saml playing each SP.
 */
export const GENERIC = { entityId: 'https://sp.example.test/metadata', acs: 'https://sp.example.test/acs', slo: 'https://sp.example.test/slo' };
export const M365_ISSUER_URI = 'urn:example:idp:contoso.example';

export interface SamlWorld {
  w: PushWorld;
  spKey: SamlSigningKey;
  idpCert: string;
  configDir: string;
  generic(extra?: Partial<SamlConfig>): SAML;
  m365(extra?: Partial<SamlConfig>): SAML;
  close(): Promise<void>;
}

/** `extraSps`: more SP files (name -> content) for config/saml/. */
export async function startSamlWorld(extraSps: Record<string, unknown> = {}): Promise<SamlWorld> {
  const spKey = await createSamlSigningKey('sp.example.test');
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'idp-saml-config-'));
  mkdirSync(path.join(configDir, 'saml'));
  writeFileSync(path.join(configDir, 'saml', 'generic.json'), JSON.stringify({
    name: 'Generic SP', entityId: GENERIC.entityId, acs: [{ url: GENERIC.acs }], slo: { url: GENERIC.slo },
    certificate: spKey.certificate, requestsSigned: true, wantAssertionsSigned: true, wantResponseSigned: true,
    nameIdFormat: 'persistent', attributes: { email: 'email', displayName: 'displayName', uid: 'username' }, idpInitiated: true,
  }));
  writeFileSync(path.join(configDir, 'saml', 'm365.json'), JSON.stringify({ profile: 'microsoft365', issuer: M365_ISSUER_URI }));
  for (const [name, sp] of Object.entries(extraSps)) writeFileSync(path.join(configDir, 'saml', `${name}.json`), JSON.stringify(sp));
  // A phone per sign-in (sso.test.ts): more than the default five devices on alice.
  const w = await startWorld({ idp: { env: { CONFIG_DIR: configDir, MAX_DEVICES_PER_ACCOUNT: '20' } } });
  const idpCert = (await (await fetch(`${w.t.url}/saml/certificate?format=base64`)).text()).trim();
  const base = (): Partial<SamlConfig> => ({
    entryPoint: `${w.t.url}/saml/sso`, logoutUrl: `${w.t.url}/saml/slo`, idpCert,
    signatureAlgorithm: 'sha256', digestAlgorithm: 'sha256', disableRequestedAuthnContext: true,
    validateInResponseTo: ValidateInResponseTo.always, acceptedClockSkewMs: 5000,
  });
  return {
    w, spKey, idpCert, configDir,
    generic: (extra = {}) => new SAML({
      ...base(), issuer: GENERIC.entityId, callbackUrl: GENERIC.acs, audience: GENERIC.entityId, idpIssuer: `${w.t.url}/saml/metadata`,
      privateKey: spKey.privateKey, wantAssertionsSigned: true, wantAuthnResponseSigned: true,
      identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', ...extra,
    } as SamlConfig),
    // Microsoft 365's settings: its entity ID, login.srf, unsigned POST requests, a signed assertion.
    m365: (extra = {}) => new SAML({
      ...base(), issuer: M365.entityId, callbackUrl: M365.endpoint, audience: M365.entityId, idpIssuer: M365_ISSUER_URI,
      authnRequestBinding: 'HTTP-POST', wantAssertionsSigned: true, wantAuthnResponseSigned: false,
      identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', ...extra,
    } as SamlConfig),
    async close() {
      await w.close();
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/** The self-posting form our IdP answers with: where it posts and its fields. */
export function postedForm(html: string): { action: string; fields: Record<string, string> } {
  const form = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error(`no SAML post form in page: ${html.slice(0, 300)}`);
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const fields = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(([, n, v]) => [n!, unescape(v!)]));
  return { action: unescape(form[1]!), fields };
}

/** POSTs a binding form (SAMLRequest, RelayState) from the SP's page to the IdP in this browser. */
export function postBinding(browser: FormBrowser, url: string, fields: Record<string, string>) {
  return browser.go(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
}

/** A SAML sign-in from its login page: a new phone for the user, the password, a push approved with its number; the page the browser ends on. */
export async function passwordAndPush(s: SamlWorld, browser: FormBrowser, login: { url: string; body: string }, username = 'alice', accountId?: string) {
  const phone = await enroll(s.w, accountId ? { accountId } : {});
  const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
  const choice = await browser.submit(login.body, /\/login$/, { username, password: PushWorld.password });
  const wait = await sendPush(browser, choice.body);
  const number = matchNumberOf(wait.body)!;
  const challenge = await newestChallenge(phone.phone);
  expect((await phone.phone.respond(challenge.id, 'approve', { number })).status).toBe(200);
  const status = await pushStatus(browser, uid);
  expect(status.status).toBe('approved');
  return browser.go(status.next);
}

/** A posted SAMLResponse as XML. */
export const xmlOf = (r: string) => Buffer.from(r, 'base64').toString('utf8');
