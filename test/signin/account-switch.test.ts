import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, enroll, sendPush, startWorld, waitUntil } from '../signin/helpers.js';

/**
 * Red-team finding (fixed, signin/state.ts begin): posting another account's password on the same
 * sign-in page dropped the victim's state without withdrawing the push it was waiting for. The
 * victim's phone kept an approvable request that no sign-in stood behind (a replaced or ended
 * sign-in's request is withdrawn: it reads as expired on the phone, and answers to it get 410), and
 * the per-sign-in "one push per 10 s" spacing of the same page started afresh.
 */
describe('account switch on one sign-in page leaves the victim\'s push live', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('the push of the victim\'s dropped state is withdrawn, not left approvable', async () => {
    const malloryId = await addUser(w, 'mallory');
    const alice = await enroll(w, { name: 'alice phone' });
    await enroll(w, { accountId: malloryId, name: 'mallory phone' });
    const b = new FormBrowser(w.t.url);
    // Attacker knows alice's password: push to alice's phone from interaction X.
    const s = await w.startSignIn({}, b);
    const csrf = s.next.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const wait = await sendPush(b, s.next.body);
    const number = matchNumberOf(wait.body);
    const first = await waitUntil(async () => (await alice.phone.pending())[0], 5000, 'alice push');

    const post = (username: string) => b.go(`/interaction/${s.uid}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, username, password: PushWorld.password }).toString(),
    });
    // Switch to the attacker's own account, then back to alice, on the same page.
    await post('mallory');
    const back = await post('alice');
    // Within the 10 s spacing of this sign-in: no second push may go out.
    const again = await sendPush(b, back.body);

    const pending = await alice.phone.pending();
    // What the attacker should NOT observe: the first request, whose sign-in state is gone, still pending on the phone...
    const stillListed = pending.map((p) => p.id).includes(first.id);
    // ...and accepted as an approval (it should be 410 withdrawn).
    const answer = await alice.phone.respond(first.id, 'approve', number === null ? {} : { number });
    expect({ stillListed, status: answer.status }).toEqual({ stillListed: false, status: 410 });
    // Spacing: only one push per 10 s per sign-in (README).
    expect(again.url).toMatch(/notice=too_soon/);
  });
});

describe('a sign-in ended on its page keeps the page\'s push limits', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ login: { form: 'single-form' } }); });
  afterAll(() => w.close());

  it('a bad passcode ends the sign-in; the password again on the same page sends no second push within 10 s', async () => {
    const alice = await enroll(w, { name: 'alice phone' });
    const b = new FormBrowser(w.t.url);
    const s = await w.startSignIn({ passcode: '' }, b);
    const first = await waitUntil(async () => (await alice.phone.pending())[0], 5000, 'first push');
    const page = await b.go(`/interaction/${s.uid}`);
    const csrf = (page.body.match(/name="csrf" value="([^"]+)"/) ?? s.next.body.match(/name="csrf" value="([^"]+)"/))![1]!;
    const post = (passcode: string) => b.go(`/interaction/${s.uid}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, username: 'alice', password: PushWorld.password, passcode }).toString(),
    });
    await post('abc'); // a bad format ends the sign-in
    await post(''); // the same page, the password again: a push would go
    await new Promise((r) => setTimeout(r, 1500));
    const others = (await alice.phone.pending()).map((p) => p.id).filter((id) => id !== first.id);
    expect(others).toEqual([]);
  });
});
