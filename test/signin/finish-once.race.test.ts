import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, CALLBACK, enroll, sendPush } from './helpers.js';

/**
 * Red-team: with the phone's approval already in, the waiting page and a typed passcode finished
 * the same sign-in at the same instant. One callback came out, but both were audited as
 * signin.success (8 rounds of 15), the second with an amr the tokens never carried. Whoever deletes
 * the sign-in's state finishes it; the other request finds it gone and records nothing.
 */
describe('a sign-in finished by two requests at once', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres' } }); });
  afterAll(() => w.close());

  it('an approved push\'s page and a typed passcode racing: one finish, one signin.success', async () => {
    for (let round = 0; round < 10; round++) {
      const username = `finish-once-${round}-${Math.random().toString(36).slice(2, 8)}`;
      const accountId = await addUser(w, username);
      const { phone, subscription } = await enroll(w, { accountId });
      const p = await w.startSignIn({ username });
      const form = await p.browser.go(`/interaction/${p.uid}/passcode`);
      const wait = await sendPush(p.browser, p.next.body);
      const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
      const code = phone.currentTotp();
      expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).body).toEqual({ status: 'approved' });

      const [typed, page] = await Promise.all([
        p.browser.submit(form.body, /\/passcode$/, { passcode: code }),
        new Promise((resolve) => setTimeout(resolve, round % 3)).then(() => p.browser.go(`/interaction/${p.uid}/wait`)),
      ]);
      const callbacks = [typed.url, page.url].filter((u) => CALLBACK.test(u));
      const successes = (await auditEvents(w, 'signin.success')).filter((e) => e.account_id === accountId);
      expect([round, callbacks.length, successes.length]).toEqual([round, 1, 1]);
      // The one recorded is the one whose tokens the app gets.
      const tokens = await w.tokens(callbacks[0]!, p.verifier, p.state);
      expect(tokens.claims()?.amr).toEqual(successes[0]!.detail.amr);
    }
  });
});
