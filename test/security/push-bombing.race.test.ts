import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_PUSH_FATIGUE } from '../../src/defences/push-fatigue.js';
import { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, enroll, movableClock, sendPush, startWorld, waitUntil } from '../signin/helpers.js';

/**
 * An attacker who knows the password presses "push" on many sign-ins at once, or many times at once
 * on one, hoping the limits are read before any push is counted (audit: 12 parallel sign-ins sent
 * 12 pushes past a limit of 5, 11 of them without the forced number matching; one sign-in sent 5
 * pushes in the same instant). Each push is reserved in one step with the decision, so the k-th
 * sees the k-1 before it. What counts is what reaches the push service.
 */
describe('push bombing in parallel', () => {
  const clock = movableClock();
  let w: PushWorld;
  // The app itself does not ask for number matching, so the forced kind is visible.
  beforeAll(async () => { w = await startWorld({ login: { numberMatching: false }, idp: { idp: { now: clock.now } } }); });
  afterAll(() => w.close());

  /** Presses push on each page at once; answers where each landed and, once sent, whether each push the phone got asks for number matching. */
  async function pressAll(presses: { browser: Parameters<typeof sendPush>[0]; page: string }[], subscriptionId: string) {
    const before = (await auditEvents(w, 'push.sent')).length;
    const landed = await Promise.all(presses.map((p) => sendPush(p.browser, p.page)));
    const notices = landed.map((l) => new URL(l.url).searchParams.get('notice'));
    const sent = notices.filter((n) => n === null).length;
    await waitUntil(async () => (await auditEvents(w, 'push.sent')).length >= before + sent, 10_000, 'the pushes to go out');
    await new Promise((r) => setTimeout(r, 300)); // anything past the limit would be on its way by now
    // Whether each push the phone received asks for number matching.
    const received = w.pushService.messages.filter((m) => m.subscriptionId === subscriptionId).map((m) => m.payload.numberMatching);
    return { notices, received };
  }

  it('12 sign-ins of one account press push at once: at most PUSH_LIMIT pushes, all past PUSH_FORCE_MATCH_AFTER with number matching', async () => {
    const { subscription } = await enroll(w, { now: clock.now });
    const signIns = [];
    for (let i = 0; i < 12; i++) {
      const s = await w.startSignIn();
      signIns.push({ browser: s.browser, page: s.next.body });
    }
    const { notices, received } = await pressAll(signIns, subscription!.id);
    expect(received).toHaveLength(DEFAULT_PUSH_FATIGUE.limit);
    expect(received.filter((matching) => !matching)).toHaveLength(DEFAULT_PUSH_FATIGUE.forceMatchAfter);
    expect(notices.filter((n) => n === 'limit')).toHaveLength(12 - DEFAULT_PUSH_FATIGUE.limit);
  });

  it('one sign-in presses push 20 times at once: exactly one push goes out, the rest are "too soon"', async () => {
    const carolId = await addUser(w, 'carol');
    const { subscription } = await enroll(w, { accountId: carolId, now: clock.now });
    const { browser, next } = await w.startSignIn({ username: 'carol' });
    const { notices, received } = await pressAll(Array.from({ length: 20 }, () => ({ browser, page: next.body })), subscription!.id);
    expect(received).toHaveLength(1);
    expect(notices.filter((n) => n === 'too_soon')).toHaveLength(19);
  });
});
