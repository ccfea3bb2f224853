import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, pushStatus, recordingFetch, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards: an approval is good for one request, once. Someone who captured a phone's signed answer
 * (a log, a proxy, a compromised network path) can neither post it again nor point it at a new
 * sign-in's request.
 */
describe('replayed answers', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('the same JWS posted again, or against a new challenge, is refused and approves nothing', async () => {
    const wire = recordingFetch();
    const { phone, subscription } = await enroll(w, { fetch: wire.fetch });

    // Sign-in 1, approved by the phone; the answer on the wire is captured.
    const one = await signedInToWaitingPage(w);
    const wait1 = one.wait;
    const cid1 = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid1, 'approve', { number: matchNumberOf(wait1.body)! })).body).toEqual({ status: 'approved' });
    expect(wire.responses).toHaveLength(1);
    const captured = wire.responses[0]!;
    expect((await one.browser.go(`/interaction/${one.uid}/wait`)).url).toMatch(CALLBACK);

    // Posted again at the same request: already answered.
    const again = await phone.sendResponse(cid1, captured);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'challenge_resolved' });

    // Sign-in 2 (the attacker's, say, with the password): the captured answer at its request.
    const two = await signedInToWaitingPage(w);
    const wait2 = two.wait;
    const cid2 = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect(cid2).not.toBe(cid1);
    const replayed = await phone.sendResponse(cid2, captured);
    expect(replayed.status).toBeGreaterThanOrEqual(400);
    expect(replayed.status).toBeLessThan(500);
    expect(replayed.body).toMatchObject({ error: 'challenge_not_found' });
    expect(await pushStatus(two.browser, two.uid)).toMatchObject({ status: 'pending' });
    expect((await phone.challenge(cid2)).status).toBe('pending');
    const page = await two.browser.go(`/interaction/${two.uid}/wait`);
    expect(page.url).not.toMatch(CALLBACK);
    expect(matchNumberOf(page.body)).toBe(matchNumberOf(wait2.body));

    // The real phone's own answer still works: the refusal above was not a broken request.
    expect((await phone.respond(cid2, 'approve', { number: matchNumberOf(wait2.body)! })).body).toEqual({ status: 'approved' });
    expect((await two.browser.go(`/interaction/${two.uid}/wait`)).url).toMatch(CALLBACK);
  });
});
