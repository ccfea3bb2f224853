import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, pushStatus, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Audit item 10: a disabled user's phone approved a pending sign-in and was answered "approved".
 * Now its answer is refused with `account_disabled`, the request stays unanswered, and the
 * sign-in never finishes.
 */
describe("a disabled account's approval", () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('is refused with 403 account_disabled, and the sign-in never finishes', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, uid, wait } = await signedInToWaitingPage(w);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    await w.t.idp.accounts.setDisabled(w.accountId, true);

    const answer = await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! });
    expect(answer).toMatchObject({ status: 403, body: { error: 'account_disabled' } });
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'pending' });
    expect((await browser.go(`/interaction/${uid}/wait`)).url).not.toMatch(CALLBACK);
  });
});
