import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, addUser, enroll, startWorld, sendPush } from '../signin/helpers.js';

/**
 * A device revoked (from /account or the admin CLI) while its approval is in flight: whatever the
 * order, no code reaches the app, and a refused answer says the device was revoked. Red-team: an
 * answer whose device was revoked between its read and its TOTP step's compare-and-set was told
 * `otp_replayed` (2-3 rounds of 16), as if the phone had sent its code twice.
 */
describe('revoking a device while its approval is in flight', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('signs nobody in, and a refused answer is device_revoked, never otp_replayed', async () => {
    const outcomes: Array<{ answer: number; error?: string; signedIn: boolean }> = [];
    for (let i = 0; i < 16; i++) {
      const username = `revoke-race-${i}-${Date.now()}`;
      const id = await addUser(w, username);
      const { phone, subscription } = await enroll(w, { accountId: id, confirm: true });
      const started = await w.startSignIn({ username, password: PushWorld.password });
      const wait = await sendPush(started.browser, started.next.body);
      const cid = ((await w.pushService.waitForMessage(subscription!.id, 5000)).payload as { cid: string }).cid;
      const seen = await phone.challenge(cid);
      const [answer] = await Promise.all([
        phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)!, nonce: seen.nonce }),
        new Promise((r) => setTimeout(r, i * 4)).then(() => w.t.idp.deviceService.revokeDevice(id, phone.deviceId)),
      ]);
      const page = await started.browser.go(`/interaction/${started.uid}/wait`);
      outcomes.push({ answer: answer.status, error: (answer.body as { error?: string }).error, signedIn: CALLBACK.test(page.url) });
    }
    expect(outcomes.filter((o) => o.signedIn)).toEqual([]);
    for (const o of outcomes) {
      if (o.answer !== 200) expect(o.error).toBe('device_revoked');
    }
  }, 120_000);
});
