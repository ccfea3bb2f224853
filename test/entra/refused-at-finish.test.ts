import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EntraStandIn } from '../support/entra-standin.js';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { createFederatedLinks } from '../../src/upstream/links.js';
import { RP_CALLBACK, type PushWorld } from '../support/push-world.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, enroll, startWorld } from '../signin/helpers.js';
import { ENTRA_CLIENT, entraAuthorize, entraClientFile, linkedEntraUser } from './helpers.js';

const BROKER_ISS = 'https://broker.example/realms/staff';

/**
 * docs/entra.md: refusals go back to the app as access_denied (Entra understands only that and
 * temporarily_unavailable). Red-team (broker round): a refusal decided at the finish of the second
 * factor (the account disabled meanwhile, the device revoked, the sessions ended) was our 403 page
 * instead: nothing was posted back to Entra, which waited for its own timeout; a broker got no
 * error at its redirect_uri. Now an MFA-only app hears it as access_denied.
 */
describe('an MFA-only sign-in refused at its finish goes back to the app as access_denied', () => {
  let entra: EntraStandIn;
  let w: PushWorld;
  beforeAll(async () => {
    entra = await EntraStandIn.start();
    w = await startWorld({ clients: [
      entraClientFile(entra),
      testRp({ client_id: 'broker', client_name: 'Staff broker', login: { consent: 'implicit' }, upstream: { profile: 'generic', issuer: BROKER_ISS, jwks_uri: entra.keysUrl } }),
    ] });
  }, 60_000);
  afterAll(async () => { await w.close(); await entra.close(); });

  it('Entra: a passcode typed after the account was disabled is answered by a form post of access_denied to Entra', async () => {
    const accountId = await addUser(w, 'rt-broker-disabled');
    const { phone } = await enroll(w, { accountId, push: false });
    const user = await linkedEntraUser(w, accountId);
    const { browser, uid } = await entraAuthorize(w, entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, { oid: user.oid, sub: user.sub })));
    await w.t.idp.accounts.setDisabled(accountId, true);
    const form = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.body).toContain(`action="${entra.replyUrl}"`);
    expect(done.body).toMatch(/name="error" value="access_denied"/);
    expect(done.body).toContain('account_disabled');
  });

  it('a broker (code flow): the same refusal is error=access_denied at the broker\'s redirect_uri', async () => {
    const accountId = await addUser(w, 'rt-broker-disabled-2');
    const { phone } = await enroll(w, { accountId, push: false });
    const sub = randomUUID();
    await createFederatedLinks(w.t.idp.db).link(BROKER_ISS, sub, accountId);
    const config = await oidc.discovery(new URL(w.t.url), 'broker', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: oidc.randomState(), id_token_hint: await entra.hint('broker', { iss: BROKER_ISS, sub }),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(w.t.url);
    const page = await browser.go(url.href);
    const uid = page.url.match(/\/interaction\/([^/?]+)/)![1]!;
    await w.t.idp.accounts.setDisabled(accountId, true);
    const form = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?error=access_denied&/);
  });
});
