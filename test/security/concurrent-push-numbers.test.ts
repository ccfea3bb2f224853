import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { addUser, enroll, sendPush, startWorld } from '../signin/helpers.js';

/**
 * Red-team (browser round): two requests of one account pending at once drew their numbers apart.
 * A user signing in while an attacker with her password pushed too saw both on the phone; if she
 * opened the attacker's and tapped the number her own browser showed, it approved his sign-in
 * whenever the two numbers matched (1 in 90 a time). Now no two pending requests of an account
 * show the same number: tapping one's number on the other is a wrong number, which denies it.
 */
describe('requests of one account pending at once', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('five sign-ins pressing push at once, on each of 30 accounts: the five pending requests of an account all show different numbers', async () => {
    const clashes: number[][] = [];
    for (let a = 0; a < 30; a++) {
      const accountId = await addUser(w, `nums${a}`);
      await enroll(w, { accountId });
      const pages = [];
      for (let i = 0; i < 5; i++) pages.push(await w.startSignIn({ username: `nums${a}` }));
      const landed = await Promise.all(pages.map((p) => sendPush(p.browser, p.next.body)));
      expect(landed.map((l) => new URL(l.url).searchParams.get('notice'))).toEqual(Array(5).fill(null));
      const numbers = (await w.t.idp.challenges.listPending(accountId)).map((c) => c.matchNumber);
      expect(numbers).toHaveLength(5);
      expect(numbers.every((n) => typeof n === 'number')).toBe(true);
      if (new Set(numbers).size !== numbers.length) clashes.push(numbers as number[]);
    }
    expect(clashes).toEqual([]);
  });

  it('the phone tapping one sign-in\'s number on the other request denies that request as a wrong number', async () => {
    const accountId = await addUser(w, 'twotabs');
    const { phone } = await enroll(w, { accountId });
    const mine = await w.startSignIn({ username: 'twotabs' });
    const theirs = await w.startSignIn({ username: 'twotabs' });
    await Promise.all([sendPush(mine.browser, mine.next.body), sendPush(theirs.browser, theirs.next.body)]);
    const [newer, older] = await w.t.idp.challenges.listPending(accountId);
    expect(newer!.matchNumber).not.toBe(older!.matchNumber);
    // The number one sign-in's page shows, tapped on the other request.
    await phone.respond(older!.id, 'approve', { number: newer!.matchNumber! });
    const after = await w.t.idp.challenges.get(older!.id);
    expect(after?.status).toBe('denied');
    expect(after?.resolution?.reason).toBe('wrong_number');
    // The other request is untouched, and its own number still approves it.
    expect((await w.t.idp.challenges.get(newer!.id))?.status).toBe('pending');
    expect((await phone.respond(newer!.id, 'approve', { number: newer!.matchNumber! })).status).toBe(200);
    expect((await w.t.idp.challenges.get(newer!.id))?.status).toBe('approved');
  });
});
