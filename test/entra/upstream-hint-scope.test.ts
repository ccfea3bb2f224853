import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { createFederatedLinks } from '../../src/upstream/links.js';
import { EntraStandIn } from '../support/entra-standin.js';
import { RP_CALLBACK, type PushWorld } from '../support/push-world.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, enroll, startWorld } from '../signin/helpers.js';

const BROKER_ISS = 'https://broker.example/realms/staff';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/**
 * Red-team finding (fixed): an MFA-only client's id_token_hint passed oidc-provider's ID token
 * check untouched everywhere, so an unsigned one naming such a client was taken at logout. And
 * (held) an upstream sign-in's session gives a plain app no code.
 */
describe("upstream doors: a hint is the upstream's only at authorization", () => {
  let keys: EntraStandIn;
  let w: PushWorld;
  beforeAll(async () => {
    keys = await EntraStandIn.start();
    w = await startWorld({
      clients: [
        testRp({ client_id: 'broker', client_name: 'Staff broker', login: { consent: 'implicit' }, post_logout_redirect_uris: ['http://127.0.0.1:1/bye'], upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: keys.keysUrl, max_age_seconds: 120 } }),
        testRp({ client_id: 'plain', client_name: 'Plain app', login: { consent: 'implicit' } }),
      ],
    });
  }, 60_000);
  afterAll(async () => { await w.close(); await keys.close(); });

  async function authorize(clientId: string, extra: Record<string, string>, browser = new FormBrowser(w.t.url)) {
    const config = await oidc.discovery(new URL(w.t.url), clientId, TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state, ...extra,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const page = await browser.go(url.href);
    const uid = page.url.match(/\/interaction\/([^/?]+)/)?.[1];
    return { browser, page, uid, config, verifier, state };
  }

  it('an SSO session from an upstream sign-in (amr otp) does not give a plain app a code with prompt=none', async () => {
    const accountId = await addUser(w, 'uhura');
    const { phone } = await enroll(w, { accountId, push: false });
    const sub = randomUUID();
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, accountId);
    const a = await authorize('broker', { id_token_hint: await keys.hint('broker', { iss: BROKER_ISS, sub }) });
    const form = await a.browser.go(`/interaction/${a.uid}/passcode`);
    const back = await a.browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(back.url).toMatch(/\/cb\?code=/);
    const variants: Record<string, string>[] = [{ prompt: 'none' }, { prompt: 'none', acr_values: 'urn:pushotp:acr:mfa' }, {}];
    for (const extra of variants) {
      const p = await authorize('plain', extra, a.browser);
      expect(p.page.url).not.toMatch(/\/cb\?code=/);
    }
  });

  it('logout: an unsigned id_token_hint naming an MFA-only client is refused as oidc-provider refuses any forged hint', async () => {
    const forged = `${b64({ alg: 'none' })}.${b64({ iss: BROKER_ISS, aud: 'broker', sub: 'anyone' })}.`;
    const browser = new FormBrowser(w.t.url);
    const page = await browser.go(`/session/end?id_token_hint=${forged}&post_logout_redirect_uri=${encodeURIComponent('http://127.0.0.1:1/bye')}`);
    // oidc-provider's own rule for every other client: "could not validate id_token_hint" (400).
    expect(page.res.status).toBe(400);
    expect(page.body).toMatch(/id_token_hint/);
  });
});
