import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { totpAt, totpStep } from '../../src/otp/totp.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Audit item 10: right after a push approval, the passcode the authenticator shows was refused as
 * "already used", though typing it must always work. The rule now (docs/device-api.md, TOTP):
 * steps the device sends itself (answers, unregistering) are accepted once among those; typed
 * passcodes' steps once among typed passcodes. So the code shown signs in once more by hand, and
 * never twice.
 */
describe('the passcode shown after an approval', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('after approving, the code shown on the phone still signs in once, and not twice', async () => {
    const { phone, subscription } = await enroll(w);
    const step = totpStep(Date.now());
    const shown = totpAt(phone.totpSecret, step * 30_000); // what the phone shows, and what its approval carries

    const one = await signedInToWaitingPage(w);
    const wait = one.wait;
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)!, otp: shown })).body).toEqual({ status: 'approved' });
    expect((await one.browser.go(`/interaction/${one.uid}/wait`)).url).toMatch(CALLBACK);

    const two = await w.startSignIn();
    const typed = await two.browser.go(`/interaction/${two.uid}/passcode`);
    const ok = await two.browser.submit(typed.body, /\/passcode$/, { passcode: shown });
    expect(ok.url).toMatch(CALLBACK);

    const three = await w.startSignIn();
    const again = await three.browser.go(`/interaction/${three.uid}/passcode`);
    const refused = await three.browser.submit(again.body, /\/passcode$/, { passcode: shown });
    expect(refused.res.status).toBe(401);
    expect(refused.url).not.toMatch(CALLBACK);
    expect(refused.body).toContain('This passcode was already used.');
  });
});
