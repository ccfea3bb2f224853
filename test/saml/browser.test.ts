import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { enroll, newestChallenge } from '../signin/helpers.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { freePort } from '../support/idp.js';
import { PushWorld } from '../support/push-world.js';
import { startSamlWorld, type SamlWorld } from './world.js';

/**
 * The HTTP-POST binding in a real browser (Chromium), across sites: a service provider on
 * http://localhost posts its AuthnRequest to the IdP on http://127.0.0.1 (another site, so the
 * IdP's SameSite cookies face what they face in production), the user signs in with password and
 * push, and the IdP's self-submitting form (allowed by its CSP hash) posts the response back.
 */
describe('SAML HTTP-POST binding in Chromium, SP on another site', () => {
  let s: SamlWorld;
  let browser: Browser;
  let spServer: Server;
  let sp: SAML;
  const received: Record<string, string>[] = [];

  beforeAll(async () => {
    const port = await freePort();
    const spUrl = `http://localhost:${port}`;
    s = await startSamlWorld({ 'browser-sp': { name: 'Browser SP', entityId: `${spUrl}/sp`, acs: [{ url: `${spUrl}/acs` }] } });
    sp = new SAML({
      issuer: `${spUrl}/sp`, callbackUrl: `${spUrl}/acs`, entryPoint: `${s.w.t.url}/saml/sso`, idpCert: s.idpCert, audience: `${spUrl}/sp`,
      idpIssuer: `${s.w.t.url}/saml/metadata`, authnRequestBinding: 'HTTP-POST', wantAssertionsSigned: true, wantAuthnResponseSigned: false,
      validateInResponseTo: ValidateInResponseTo.always, disableRequestedAuthnContext: true, signatureAlgorithm: 'sha256',
      identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    });
    spServer = createServer((req, res) => {
      void (async () => {
        if (req.method === 'GET' && req.url === '/start') {
          res.setHeader('content-type', 'text/html');
          res.end(await sp.getAuthorizeFormAsync('from-browser'));
          return;
        }
        if (req.method === 'POST' && req.url === '/acs') {
          let body = '';
          for await (const chunk of req) body += String(chunk);
          received.push(Object.fromEntries(new URLSearchParams(body)));
          res.setHeader('content-type', 'text/html');
          res.end('<h1 id="sp-received">received</h1>');
          return;
        }
        res.statusCode = 404;
        res.end();
      })();
    });
    await new Promise<void>((resolve) => spServer.listen(port, '127.0.0.1', resolve));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => spServer?.close(resolve));
    await s?.close();
  });

  it('password, push approved on the phone, and the SP receives a response node-saml accepts', async () => {
    const phone = await enroll(s.w);
    const { page } = browser;
    await page.goto(`http://localhost:${(spServer.address() as { port: number }).port}/start`);
    await page.locator('#username').waitFor();
    expect(await page.content()).toContain('Browser SP');
    await page.locator('#username').fill('alice');
    await page.locator('#password').fill(PushWorld.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#send-push').click();
    const number = Number((await page.locator('#match-number').textContent())!.trim());
    const challenge = await newestChallenge(phone.phone);
    expect(challenge.app).toBe('Browser SP');
    expect((await phone.phone.respond(challenge.id, 'approve', { number })).status).toBe(200);
    await page.locator('#sp-received').waitFor({ timeout: 15_000 });
    expect(received).toHaveLength(1);
    expect(received[0]!.RelayState).toBe('from-browser');
    const { profile } = await sp.validatePostResponseAsync(received[0]!);
    expect(profile!.nameID).toBe(s.w.accountId);
    expect(Buffer.from(received[0]!.SAMLResponse!, 'base64').toString()).toContain('https://refeds.org/profile/mfa');
    // The self-submitting form ran under the IdP's CSP (no violation, no click on Continue needed).
    expect(browser.errors).toEqual([]);
  });
});
