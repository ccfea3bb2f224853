import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { displayText, FIELD_LIMITS } from '../../src/push/payload.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Red-team finding: the push payload cleans every shown string (src/push/payload.ts displayText:
 * bidi overrides and control characters removed, at most 80 graphemes), but the device API's
 * challenge view (src/device-api/challenge-view.ts toDeviceView) handed the phone the raw appName,
 * and the PWA's request page (pwa/src/ui/request-view.ts), where the user actually decides and
 * chooses the number, rendered it as is. A client_name (or SAML SP / agent / RADIUS client name)
 * holding U+202E, newlines or a long run of padding reads differently there than in the notification.
 */
const NAME = `Payroll \u202Enoitacilppa\u202C\n${'\u3000'.repeat(40)}x`;
const PASSWORD = 'challenge view password 1';

describe('the request page gets the same cleaned text as the notification', () => {
  let t: TestIdp;
  let phone: SimulatedAuthenticator;
  let rp: oidc.Configuration;
  beforeAll(async () => {
    t = await startTestIdp({ storage: 'postgres', redis: 'real', clients: [testRp({ client_name: NAME, login: { consent: 'implicit', numberMatching: false } })] });
    const account = await t.idp.accounts.create({ username: 'rtb', passwordHash: await hashPassword(PASSWORD) });
    const offer = await t.idp.deviceService.issueEnrollment(account.id, 'test');
    phone = await SimulatedAuthenticator.enroll(t.url, offer.code, { push: null, name: 'Phone' });
    rp = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => t.close());

  it('GET /api/device/challenges carries the app name as displayText made it', async () => {
    const browser = new FormBrowser(t.url);
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const login = await browser.go(url.href);
    let next = await browser.submit(login.body, /\/login$/, { username: 'rtb', password: PASSWORD });
    if (!(await phone.pending()).length && /action="[^"]*\/push"/.test(next.body)) next = await browser.submit(next.body, /\/push$/, {});
    const [pending] = await phone.pending();
    expect(pending).toBeDefined();
    const view = await phone.challenge(pending!.id);
    // What the notification said (buildPushPayload) is what the request page must say.
    expect(view.app).toBe(displayText(NAME, FIELD_LIMITS.app));
    expect(view.app).not.toMatch(/[\u202A-\u202E\u2066-\u2069\n]/);
  });
});
