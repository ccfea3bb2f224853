import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, type Browser } from '../support/browser.js';
import { EntraStandIn } from '../support/entra-standin.js';
import type { PushWorld } from '../support/push-world.js';
import { addUser, enroll, startWorld, waitUntil } from '../signin/helpers.js';
import { ENTRA_CLIENT, entraClientFile, linkedEntraUser, rpView } from './helpers.js';

/**
 * The whole Entra External MFA exchange once in real Chromium: Entra's page (another site)
 * POSTs the authorize request, the user presses "Send a push", the simulated phone approves with
 * the number shown, the waiting page's script carries on, and the IdP's form post lands at Entra's
 * https reply URL with an ID token that openid-client accepts.
 */
describe('Entra External MFA in Chromium', () => {
  let entra: EntraStandIn;
  let w: PushWorld;
  let browser: Browser;
  beforeAll(async () => {
    entra = await EntraStandIn.start();
    w = await startWorld({ clients: [entraClientFile(entra)] });
    // The stand-in's reply URL has a self-signed certificate, as a test double's must.
    browser = await launchBrowser({ args: ['--ignore-certificate-errors'] });
  });
  afterAll(async () => { await browser?.close(); await w.close(); await entra.close(); });

  it('Entra -> push approved on the phone -> form post back to Entra with the hint\'s sub', async () => {
    const accountId = await addUser(w, 'entra-browser-user');
    const { phone, subscription } = await enroll(w, { accountId });
    const user = await linkedEntraUser(w, accountId);
    const fields = entra.authorizeFields(ENTRA_CLIENT, await entra.hint(ENTRA_CLIENT, user));
    const { page } = browser;

    await page.goto(entra.startPage(`${w.t.url}/auth`, fields));
    await page.waitForURL(/\/interaction\/[^/]+\/second-factor$/);
    expect(await page.locator('input[name="password"]').count()).toBe(0);
    await page.click('#send-push');
    await page.waitForURL(/\/wait$/);
    const number = Number(await page.locator('#match-number').textContent());

    const message = await w.pushService.waitForMessage(subscription!.id, 10_000);
    const cid = (message.payload as { cid: string }).cid;
    expect((await phone.respond(cid, 'approve', { number })).status).toBe(200);

    await page.waitForSelector('#entra-done', { timeout: 15_000 });
    const reply = await waitUntil(async () => entra.replies.at(-1), 5000, 'the reply at Entra');
    expect(reply.state).toBe(fields.state);
    const claims = await rpView(w, entra, reply, fields.nonce!, fields.state!);
    expect(claims).toMatchObject({ iss: w.t.url, aud: ENTRA_CLIENT, sub: user.sub, nonce: fields.nonce, acr: 'possessionorinherence', amr: ['otp'] });
    expect(browser.errors).toEqual([]);
  });
});
