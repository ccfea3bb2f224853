import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { createFederatedLinks } from '../../src/upstream/links.js';
import { EntraStandIn } from '../support/entra-standin.js';
import { RP_CALLBACK, type PushWorld } from '../support/push-world.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, auditEvents, enroll, startWorld } from '../signin/helpers.js';
import { runAdminCli } from '../support/admin-cli.js';
import { TEST_REDIS_URL } from '../support/env.js';

/**
 * MFA-only mode for a broker (Keycloak, Okta): an ordinary code-flow app whose first factor is
 * its own sign-in, handed over as an id_token_hint from its configured issuer (keys from the
 * stand-in's JWKS). The user does only the second factor; the broker gets tokens through
 * openid-client; each authorization needs a fresh hint and a fresh second factor.
 */
const BROKER_ISS = 'https://broker.example/realms/staff';

describe('MFA-only mode behind a broker', () => {
  let keys: EntraStandIn;
  let w: PushWorld;
  let rp: oidc.Configuration;
  beforeAll(async () => {
    keys = await EntraStandIn.start();
    w = await startWorld({
      clients: [
        testRp({ client_id: 'broker', client_name: 'Staff broker', login: { consent: 'implicit' }, upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: keys.keysUrl, max_age_seconds: 120 } }),
        testRp({ client_id: 'broker-auto', client_name: 'Staff broker', login: { consent: 'implicit', autoPush: true }, upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: keys.keysUrl, max_age_seconds: 120 } }),
        testRp({ client_id: 'broker-autolink', client_name: 'Staff broker', login: { consent: 'implicit' }, upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: keys.keysUrl, link_claim: 'preferred_username' } }),
      ],
    });
    rp = await oidc.discovery(new URL(w.t.url), 'broker', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(async () => { await w.close(); await keys.close(); });

  async function authorize(clientId: string, hint: string, scope = 'openid') {
    const config = clientId === 'broker' ? rp : await oidc.discovery(new URL(w.t.url), clientId, TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP_CALLBACK, scope, state, id_token_hint: hint,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(w.t.url);
    const page = await browser.go(url.href);
    const uid = page.url.match(/\/interaction\/([^/?]+)/)?.[1];
    return { browser, page, uid, config, verifier, state };
  }

  it('a linked user types a passcode and the broker gets tokens with amr ["otp"]; the next authorization asks again', async () => {
    const accountId = await addUser(w, 'frank');
    const { phone } = await enroll(w, { accountId, push: false });
    const sub = randomUUID();
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, accountId);

    const a = await authorize('broker', await keys.hint('broker', { iss: BROKER_ISS, sub }));
    expect(a.page.url).toMatch(/\/second-factor$/);
    const form = await a.browser.go(`/interaction/${a.uid}/passcode`);
    const back = await a.browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const tokens = await oidc.authorizationCodeGrant(a.config, new URL(back.url), { pkceCodeVerifier: a.verifier, expectedState: a.state });
    expect(tokens.claims()).toMatchObject({ sub: accountId, amr: ['otp'], acr: 'urn:pushotp:acr:mfa' });

    // Same browser, new hint: no single sign-on, the second factor again.
    const again = await authorize('broker', await keys.hint('broker', { iss: BROKER_ISS, sub, iat: Math.floor(Date.now() / 1000) - 3 }));
    expect(again.page.url).toMatch(/\/second-factor$/);
  });

  it('login.autoPush: the user arrives on the waiting page, the push already sent; its approval gives the broker tokens with amr ["otp"]', async () => {
    const accountId = await addUser(w, 'hana');
    const { phone, subscription } = await enroll(w, { accountId });
    const sub = randomUUID();
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, accountId);
    const a = await authorize('broker-auto', await keys.hint('broker-auto', { iss: BROKER_ISS, sub }));
    expect(a.page.url).toMatch(new RegExp(`/interaction/${a.uid}/wait$`));
    const number = Number(/id="match-number"[^>]*>(\d+)</.exec(a.page.body)?.[1]);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid, 'approve', { number })).body).toEqual({ status: 'approved' });
    const back = await a.browser.go(`/interaction/${a.uid}/wait`);
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const tokens = await oidc.authorizationCodeGrant(a.config, new URL(back.url), { pkceCodeVerifier: a.verifier, expectedState: a.state });
    expect(tokens.claims()).toMatchObject({ sub: accountId, amr: ['otp'], acr: 'urn:pushotp:acr:mfa' });
  });

  it('a hint from another issuer, or none, is refused with access_denied at the broker\'s callback', async () => {
    const other = await authorize('broker', await keys.hint('broker', { iss: 'https://elsewhere.example/realms/staff', sub: 'x' }));
    expect(other.page.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?error=access_denied/);
    const none = await authorize('broker', '');
    expect(none.page.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?error=access_denied/);
  });

  it('link_claim: a first sign-in links the identity to the account the claim names, once its second factor is done', async () => {
    const accountId = await addUser(w, 'grace');
    const { phone } = await enroll(w, { accountId, push: false });
    const sub = randomUUID();
    const a = await authorize('broker-autolink', await keys.hint('broker-autolink', { iss: BROKER_ISS, sub, preferred_username: 'Grace' }));
    expect(a.page.url).toMatch(/\/second-factor$/);
    expect(await createFederatedLinks(w.t.idp.db).find(BROKER_ISS, sub)).toBeNull();
    const form = await a.browser.go(`/interaction/${a.uid}/passcode`);
    const back = await a.browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    const tokens = await oidc.authorizationCodeGrant(a.config, new URL(back.url), { pkceCodeVerifier: a.verifier, expectedState: a.state });
    expect(tokens.claims()).toMatchObject({ sub: accountId, amr: ['otp'] });
    expect(await createFederatedLinks(w.t.idp.db).find(BROKER_ISS, sub)).toMatchObject({ accountId });
    expect((await auditEvents(w, 'federation.link')).at(-1)).toMatchObject({ account_id: accountId, detail: { by: 'auto', subject: sub } });
    // A name no account has: refused, nothing linked.
    const nobody = await authorize('broker-autolink', await keys.hint('broker-autolink', { iss: BROKER_ISS, sub: 'n', preferred_username: 'nobody' }));
    expect(nobody.page.res.status).toBe(403);
    expect(await createFederatedLinks(w.t.idp.db).find(BROKER_ISS, 'n')).toBeNull();
  });

  it('`federation unlink` voids what the link gave: a code the broker holds from before it gets invalid_grant', async () => {
    // Red-team finding (fixed): a wrong link noticed and removed (and the identity linked to the right
    // user) still let the broker redeem a code for the old account.
    const accountId = await addUser(w, 'judy');
    const other = await addUser(w, 'kim');
    const { phone } = await enroll(w, { accountId, push: false });
    const sub = randomUUID();
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, accountId);
    const a = await authorize('broker', await keys.hint('broker', { iss: BROKER_ISS, sub }));
    const form = await a.browser.go(`/interaction/${a.uid}/passcode`);
    const back = await a.browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const env = { DATABASE_URL: w.t.settings.databaseUrl!, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: w.t.idp.redis.options.keyPrefix!, DATA_DIR: w.t.settings.dataDir, ISSUER: w.t.url };
    const unlinked = await runAdminCli(['federation', 'unlink', '--issuer', BROKER_ISS, '--subject', sub], { env });
    expect(unlinked.status).toBe(0);
    expect(unlinked.stdout).toMatch(/unlinked .*; ended \d+ session\(s\), 1 grant\(s\)/);
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, other);
    const err = await oidc.authorizationCodeGrant(a.config, new URL(back.url), { pkceCodeVerifier: a.verifier, expectedState: a.state })
      .then(() => null, (e: unknown) => e as { error?: string });
    expect(err?.error).toBe('invalid_grant');
  });

  // Red-team finding (fixed): a broker allowed the refresh_token grant got a refresh token from one
  // upstream sign-in, which went on minting acr mfa ID tokens for 14 days, after `federation unlink`
  // too. Each authorization of an MFA-only client stands for one upstream sign-in.
  async function brokerTokens(username: string) {
    const accountId = await addUser(w, username);
    const { phone } = await enroll(w, { accountId, push: false });
    const sub = randomUUID();
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, accountId);
    const a = await authorize('broker', await keys.hint('broker', { iss: BROKER_ISS, sub }), 'openid offline_access');
    const form = await a.browser.go(`/interaction/${a.uid}/passcode`);
    const back = await a.browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    return { accountId, tokens: await oidc.authorizationCodeGrant(a.config, new URL(back.url), { pkceCodeVerifier: a.verifier, expectedState: a.state }) };
  }

  it('a broker sign-in with offline_access gives ID and access tokens, no refresh token', async () => {
    const { tokens } = await brokerTokens('heidi');
    expect(tokens.claims()).toMatchObject({ amr: ['otp'], acr: 'urn:pushotp:acr:mfa' });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('a refresh token issued to the broker before (an earlier version) is refused with invalid_grant', async () => {
    const { accountId } = await brokerTokens('ivan');
    const { provider } = w.t.idp;
    const client = await provider.Client.find('broker');
    const grant = new provider.Grant({ accountId, clientId: 'broker' });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    const refresh = await new provider.RefreshToken({
      accountId, client: client!, grantId, scope: 'openid offline_access', amr: ['otp'], acr: 'urn:pushotp:acr:mfa',
      authTime: Math.floor(Date.now() / 1000), gty: 'authorization_code',
    }).save();
    const err = await oidc.refreshTokenGrant(rp, refresh).then(() => null, (e: unknown) => e as { error?: string });
    expect(err?.error).toBe('invalid_grant');
  });
});
