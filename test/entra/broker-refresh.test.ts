import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { createFederatedLinks } from '../../src/upstream/links.js';
import { EntraStandIn } from '../support/entra-standin.js';
import { RP_CALLBACK, type PushWorld } from '../support/push-world.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, enroll, startWorld } from '../signin/helpers.js';

/**
 * Red-team finding (fixed): a broker (an MFA-only client) allowed the refresh_token grant got a
 * refresh token from one upstream sign-in, and it went on minting ID tokens with acr mfa for its
 * 14 days, after `federation unlink` too. Each authorization of an MFA-only client stands for one
 * upstream sign-in: it gets no refresh token, and one issued before is refused.
 */
const BROKER_ISS = 'https://broker.example/realms/staff';

describe('an MFA-only client gets no refresh token', () => {
  let keys: EntraStandIn;
  let w: PushWorld;
  let rp: oidc.Configuration;
  beforeAll(async () => {
    keys = await EntraStandIn.start();
    w = await startWorld({
      clients: [testRp({ client_id: 'broker', client_name: 'Staff broker', login: { consent: 'implicit' }, upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: keys.keysUrl, max_age_seconds: 120 } })],
    });
    rp = await oidc.discovery(new URL(w.t.url), 'broker', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(async () => { await w.close(); await keys.close(); });

  async function brokerSignIn() {
    const accountId = await addUser(w, `u${randomUUID().slice(0, 8)}`);
    const { phone } = await enroll(w, { accountId, push: false });
    const sub = randomUUID();
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, accountId);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid offline_access', state: 's', id_token_hint: await keys.hint('broker', { iss: BROKER_ISS, sub }),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(w.t.url);
    const page = await browser.go(url.href);
    const uid = page.url.match(/\/interaction\/([^/?]+)/)![1];
    const form = await browser.go(`/interaction/${uid}/passcode`);
    const back = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    return { tokens, sub, accountId };
  }

  it('a broker sign-in with offline_access gives ID and access tokens, no refresh token', async () => {
    const { tokens } = await brokerSignIn();
    expect(tokens.claims()).toMatchObject({ amr: ['otp'], acr: 'urn:pushotp:acr:mfa' });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('a refresh token issued to the broker before (an earlier version) is refused with invalid_grant', async () => {
    const { accountId } = await brokerSignIn();
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
