import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { createFederatedLinks, entraIssuer } from '../../src/upstream/links.js';
import { EntraStandIn, formPostFields } from '../support/entra-standin.js';
import type { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

export const ENTRA_CLIENT = '4f1c6b1e-3a0e-4a51-9d3a-6c3d2f6a9b10';

/** The client file an admin writes for Entra (docs/entra.md), pointed at the stand-in's keys. */
export const entraClientFile = (entra: EntraStandIn, extra: Record<string, unknown> = {}) => ({
  client_id: ENTRA_CLIENT,
  client_name: 'Microsoft Entra ID',
  redirect_uris: [entra.replyUrl],
  upstream: { profile: 'entra', tenants: [EntraStandIn.tenant.toUpperCase()], jwks_uri: entra.keysUrl, max_age_seconds: 300 },
  ...extra,
});

/** A user at the Entra tenant, linked to an account here (the admin's `federation link`). */
export async function linkedEntraUser(w: PushWorld, accountId = w.accountId) {
  const oid = randomUUID();
  await createFederatedLinks(w.t.idp.db).link(entraIssuer(EntraStandIn.tenant), oid, accountId);
  return { oid, sub: `pairwise-${randomUUID()}` };
}

/** Entra's browser POSTs the authorize request; the answer is followed on the IdP's origin. */
export async function entraAuthorize(w: PushWorld, fields: Record<string, string>, browser = new FormBrowser(w.t.url)) {
  const page = await browser.go('/auth', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(),
  });
  const uid = page.url.match(/\/interaction\/([^/?]+)/)?.[1] ?? null;
  return { browser, page, uid };
}

/** What the IdP form-posts back to Entra's reply URL, read from its auto-submitting page. */
export function replyOf(page: { res: Response; body: string }, entra: EntraStandIn) {
  const { action, fields } = formPostFields(page.body);
  if (action !== entra.replyUrl) throw new Error(`not a form post to Entra (status ${page.res.status}): ${page.body.slice(0, 300)}`);
  return fields;
}

/** A relying-party library's view of the answer: openid-client's implicit (form_post) validation. */
export async function rpView(w: PushWorld, entra: EntraStandIn, fields: Record<string, string>, nonce: string, state: string) {
  const config = await oidc.discovery(new URL(w.t.url), ENTRA_CLIENT, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests, oidc.useIdTokenResponseType] });
  const req = new Request(entra.replyUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  return oidc.implicitAuthentication(config, req, nonce, { expectedState: state });
}
