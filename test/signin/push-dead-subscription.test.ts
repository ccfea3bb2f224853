import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, dispatched, enroll, newestChallenge, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards RFC 8030 7.3 in the sign-in: when the push service says a subscription is gone (410), the
 * device is marked dead and never pushed to again, and the sign-in goes on (passcode, or polling).
 * A new subscription from the device brings pushes back.
 */
describe('a dead push subscription', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  const requestsTo = (id: string) => w.pushService.requests.filter((r) => r.subscriptionId === id).length;

  it('410 marks the device dead, the next sign-in sends it nothing, and the passcode still signs in', async () => {
    const { phone, subscription } = await enroll(w);
    w.pushService.force(subscription!.id, { status: 410 });

    await signedInToWaitingPage(w);
    const cid1 = (await newestChallenge(phone)).id; // the phone still finds it by polling
    expect(await dispatched(w, cid1)).toMatchObject({ sent: 0, gone: 1 });
    expect(requestsTo(subscription!.id)).toBe(1);
    expect((await w.t.idp.devices.get(phone.deviceId))!.pushStatus).toBe('dead');
    expect((await w.t.idp.devices.get(phone.deviceId))!.status).toBe('active');

    // The next sign-in: nothing is sent to the dead subscription.
    const two = await signedInToWaitingPage(w);
    const wait2 = two.wait;
    expect(matchNumberOf(wait2.body)).not.toBeNull();
    const cid2 = (await newestChallenge(phone)).id;
    expect(cid2).not.toBe(cid1);
    expect(await dispatched(w, cid2)).toMatchObject({ sent: 0, gone: 0, failed: 0, pollOnly: 1 });
    expect(requestsTo(subscription!.id)).toBe(1);

    // The passcode (the fallback that always works) signs in.
    const typed = await two.browser.go(`/interaction/${two.uid}/passcode`);
    const done = await two.browser.submit(typed.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, two.verifier, two.state)).claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('a device that sends a new subscription gets pushes again', async () => {
    const { phone, subscription } = await enroll(w);
    w.pushService.unsubscribe(subscription!.id);
    await signedInToWaitingPage(w);
    await dispatched(w, (await newestChallenge(phone)).id);
    expect((await w.t.idp.devices.get(phone.deviceId))!.pushStatus).toBe('dead');

    const fresh = w.pushService.createSubscription();
    const update = await phone.updatePush({ endpoint: fresh.endpoint, keys: fresh.keys });
    expect(update).toMatchObject({ status: 200, body: { pushStatus: 'active' } });
    const two = await signedInToWaitingPage(w);
    const wait = two.wait;
    const cid = (await w.pushService.waitForMessage(fresh.id)).payload.cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).body).toEqual({ status: 'approved' });
    expect((await two.browser.go(`/interaction/${two.uid}/wait`)).url).toMatch(CALLBACK);
  });
});
