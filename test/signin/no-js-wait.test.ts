import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards the waiting page without JavaScript: while the request is pending it refreshes itself
 * (<noscript> meta refresh), a refresh neither sends a new push nor changes the number, and the
 * first refresh after the approval finishes the sign-in with a 303 chain to the relying app.
 */
describe('the waiting page without JavaScript', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('refreshes itself while pending; a plain GET after the approval finishes the sign-in', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, uid, verifier, state, wait } = await signedInToWaitingPage(w);
    const number = matchNumberOf(wait.body)!;
    expect(wait.body).toMatch(/<noscript><meta http-equiv="refresh" content="\d+"><\/noscript>/);
    expect(wait.body).toContain('<script src="/static/push-wait.js" defer></script>');
    expect(wait.res.headers.get('cache-control')).toContain('no-store');
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;

    // What the refresh does while pending: the same page, the same number, no new push.
    const refreshed = await browser.go(`/interaction/${uid}/wait`);
    expect(refreshed.res.status).toBe(200);
    expect(matchNumberOf(refreshed.body)).toBe(number);
    expect(refreshed.body).toContain('http-equiv="refresh"');
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);

    expect((await phone.respond(cid, 'approve', { number })).body).toEqual({ status: 'approved' });

    // The next refresh: a 303 to oidc-provider, which carries on to the relying app with a code.
    const first = await browser.request(`/interaction/${uid}/wait`);
    expect(first.status).toBe(303);
    const resume = new URL(first.headers.get('location')!, w.t.url);
    expect(resume.origin).toBe(w.t.url);
    const done = await browser.go(resume.href);
    expect(done.url).toMatch(CALLBACK);
    const claims = (await w.tokens(done.url, verifier, state)).claims()!;
    expect(claims.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(claims.sub).toBe(w.accountId);

    // Refreshing once more (a second tab, the back button) does not finish it a second time.
    const again = await browser.request(`/interaction/${uid}/wait`);
    expect(again.status).toBeGreaterThanOrEqual(400);
  });

  it('the script the page names is served', async () => {
    const script = await fetch(`${w.t.url}/static/push-wait.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(await script.text()).toContain('/push/status');
  });
});
