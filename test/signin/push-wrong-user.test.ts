import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { addUser, CALLBACK, enroll, pushStatus, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards: a device answers only its own user's requests. Bob's phone (a validly enrolled device,
 * with a valid key and TOTP) can neither see nor approve nor deny Alice's sign-in.
 */
describe("another user's device", () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it("cannot see Alice's request, and its answer is refused 403 wrong_user; the request stays pending", async () => {
    const bobId = await addUser(w, 'bob');
    const bob = await enroll(w, { accountId: bobId, name: "Bob's phone" });
    const alice = await enroll(w, { name: "Alice's phone" });

    const { browser, uid, verifier, state, wait } = await signedInToWaitingPage(w);
    const number = matchNumberOf(wait.body)!;
    const cid = (await w.pushService.waitForMessage(alice.subscription!.id)).payload.cid;
    const nonce = (await alice.phone.challenge(cid)).nonce;

    // Bob's phone got no push and sees nothing of Alice's request.
    await expect(w.pushService.waitForMessage(bob.subscription!.id, 300)).rejects.toThrow(/no push/);
    expect(await bob.phone.pending()).toEqual([]);
    const peek = await bob.phone.request('GET', `/api/device/challenges/${cid}`);
    expect(peek.status).toBe(404);
    expect(peek.body).toMatchObject({ error: 'challenge_not_found' });

    // Even knowing the id, the nonce and the number, its signed answers are refused.
    const approve = await bob.phone.respond(cid, 'approve', { number, nonce });
    expect(approve.status).toBe(403);
    expect(approve.body).toMatchObject({ error: 'wrong_user' });
    const deny = await bob.phone.respond(cid, 'deny', { nonce });
    expect(deny.status).toBe(403);
    expect(deny.body).toMatchObject({ error: 'wrong_user' });

    expect((await alice.phone.challenge(cid)).status).toBe('pending');
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'pending' });
    expect((await browser.go(`/interaction/${uid}/wait`)).url).not.toMatch(CALLBACK);

    // Bob's passcode does not pass Alice's second factor either.
    const typed = await browser.go(`/interaction/${uid}/passcode`);
    const refused = await browser.submit(typed.body, /\/passcode$/, { passcode: bob.phone.currentTotp() });
    expect(refused.res.status).toBe(401);

    // Alice's own phone still approves, and the tokens name Alice.
    expect((await alice.phone.respond(cid, 'approve', { number })).body).toEqual({ status: 'approved' });
    const done = await browser.go(`/interaction/${uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.sub).toBe(w.accountId);
  });
});
