import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, type Browser } from '../support/browser.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';

/**
 * The waiting page's script in Chromium, when its status request is answered as by an instance
 * that is shutting down (503 + Retry-After, test/lifecycle/graceful-shutdown.test.ts): it does not
 * give up or show an error, it asks again, and continues the sign-in once the push is approved.
 */
describe('the waiting page retries after 503 + Retry-After', () => {
  let w: PushWorld;
  let b: Browser;
  beforeAll(async () => {
    w = await PushWorld.start();
    b = await launchBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await w?.close();
  });

  it('asks again after the shutdown answer and follows the approval', async () => {
    const { phone, subscription } = await w.enrollPhone();
    const { browser, next, uid } = await w.startSignIn();
    const wait = await browser.submit(next.body, /\/push$/, {});
    const number = matchNumberOf(wait.body)!;
    const origin = new URL(w.t.url);
    await b.context.addCookies(browser.cookieHeader().split('; ').map((c) => ({
      name: c.slice(0, c.indexOf('=')), value: c.slice(c.indexOf('=') + 1), domain: origin.hostname, path: '/',
    })));

    // The first status request meets a draining instance; the later ones reach the real server.
    const statusAnswers: number[] = [];
    let drained = false;
    await b.page.route('**/push/status*', async (route) => {
      if (!drained) {
        drained = true;
        statusAnswers.push(503);
        await route.fulfill({ status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/json', Connection: 'close' }, body: '{"status":"unavailable","error":"shutting_down","retry":true}' });
        return;
      }
      statusAnswers.push(0);
      await route.continue();
    });
    const callback = b.page.waitForRequest((r) => r.url().startsWith('http://127.0.0.1:1/cb?code='), { timeout: 30_000 });
    await b.page.goto(`${w.t.url}/interaction/${uid}/wait`);
    // The script has asked again after the 503: its second request is held by the real server.
    for (let i = 0; i < 150 && statusAnswers.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(statusAnswers.length).toBeGreaterThanOrEqual(2);
    expect(statusAnswers[0]).toBe(503);
    expect(await b.page.locator('#status').textContent()).not.toMatch(/not approved/);

    const msg = await w.pushService.waitForMessage(subscription!.id);
    const cid = (msg.payload as { cid: string }).cid;
    expect((await phone.respond(cid, 'approve', { number })).status).toBe(200);
    expect((await callback).url()).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });
});
