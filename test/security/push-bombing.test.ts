import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_PUSH_FATIGUE, pushFatigueDecision } from '../../src/defences/push-fatigue.js';
import { runAdminCli } from '../support/admin-cli.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { auditEvents, enroll, movableClock, newestChallenge, sendPush, startWorld, textOf, waitUntil } from '../signin/helpers.js';

/**
 * An attacker who knows the password bombs the user with pushes, hoping for a tired "Approve".
 * Unapproved pushes escalate to number matching, then stop; a report mutes pushes for the account;
 * an admin sees reports and can lift the mute.
 */
describe('push-fatigue decision', () => {
  const p = { ...DEFAULT_PUSH_FATIGUE, limit: 3, forceMatchAfter: 1 };
  it('escalates from plain push to forced number matching to no push, and honours a mute', () => {
    expect(pushFatigueDecision({ unapproved: [], mutedUntil: null }, p, 1000)).toEqual({ allow: true, forceNumberMatching: false });
    expect(pushFatigueDecision({ unapproved: [900], mutedUntil: null }, p, 1000)).toEqual({ allow: true, forceNumberMatching: true });
    expect(pushFatigueDecision({ unapproved: [100, 500, 900], mutedUntil: null }, p, 1000)).toEqual({ allow: false, reason: 'limit', retryAfterMs: 100 + p.windowMs - 1000 });
    // Old pushes leave the window.
    expect(pushFatigueDecision({ unapproved: [0, 1, 2], mutedUntil: null }, p, p.windowMs + 5)).toEqual({ allow: true, forceNumberMatching: false });
    expect(pushFatigueDecision({ unapproved: [], mutedUntil: 5000 }, p, 1000)).toEqual({ allow: false, reason: 'muted', retryAfterMs: 4000 });
    expect(pushFatigueDecision({ unapproved: [], mutedUntil: 5000 }, p, 5000)).toEqual({ allow: true, forceNumberMatching: false });
  });
});

describe('push bombing against the sign-in', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => {
    w = await startWorld({
      login: { numberMatching: false },
      idp: { idp: { now: clock.now }, env: { PUSH_LIMIT: '3', PUSH_FORCE_MATCH_AFTER: '1', PUSH_MUTE_AFTER_REPORT: '1200' } },
    });
  });
  afterAll(() => w.close());

  it('forces number matching after an unapproved push, stops pushes at the limit, and forgives approvals', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const bomb = async () => {
      const { browser, next, uid } = await w.startSignIn();
      const page = await sendPush(browser, next.body);
      return { browser, uid, page };
    };
    const first = await bomb();
    expect(matchNumberOf(first.page.body)).toBeNull(); // this app does not ask for number matching
    const firstCid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid as string;
    expect((await phone.respond(firstCid, 'deny')).status).toBe(200);

    const second = await bomb();
    expect(matchNumberOf(second.page.body)).not.toBeNull(); // forced on after one unapproved push
    await bomb(); // ignored
    // The third push is sent in the background: count once it has arrived, or a late one reads as a fourth.
    const mine = () => w.pushService.messages.filter((m) => m.subscriptionId === subscription!.id).length;
    const received = await waitUntil(async () => (mine() >= 3 ? mine() : null), 10_000, 'the third push');
    expect(received).toBe(3);

    const fourth = await bomb();
    expect(textOf(fourth.page.body, 'notice')).toMatch(/not approved in the last few minutes/);
    expect(fourth.page.body).toContain('Enter a passcode instead');
    await new Promise((r) => setTimeout(r, 300));
    expect(mine()).toBe(received);
    expect((await auditEvents(w, 'push.refused')).some((e) => e.detail.reason === 'limit')).toBe(true);

    // The window passes; an approved push does not count against the user afterwards.
    clock.advance(DEFAULT_PUSH_FATIGUE.windowMs + 1000);
    for (let i = 0; i < 4; i++) {
      const s = await bomb();
      const number = matchNumberOf(s.page.body);
      const { id } = await newestChallenge(phone);
      expect((await phone.respond(id, 'approve', number === null ? {} : { number })).status).toBe(200);
      clock.advance(31_000); // a fresh TOTP step for each answer
    }
  });

  it('a report mutes pushes for the account, an admin sees it and can lift the mute', async () => {
    clock.advance(DEFAULT_PUSH_FATIGUE.windowMs + 1000);
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const s = await w.startSignIn();
    await sendPush(s.browser, s.next.body);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid as string;
    expect((await phone.respond(cid, 'report')).status).toBe(200);
    expect((await auditEvents(w, 'push.muted')).some((e) => e.detail.challengeId === cid)).toBe(true);

    const again = await w.startSignIn();
    const page = await sendPush(again.browser, again.next.body);
    expect(textOf(page.body, 'notice')).toMatch(/^Requests to your phone are paused for a while/);

    // The IdP serves from this process: the CLI runs without blocking it (test/support/admin-cli.ts).
    const env = { DATABASE_URL: w.t.settings.databaseUrl!, REDIS_URL: w.t.settings.redisUrl!, REDIS_PREFIX: w.t.idp.redis.options.keyPrefix!, DATA_DIR: w.t.settings.dataDir };
    const cli = (...args: string[]) => runAdminCli(args, { env });
    const reports = await cli('reports');
    expect(reports.stdout).toContain('alice');
    expect(reports.stdout).toContain(cid);
    expect((await cli('user', 'unmute', 'alice')).stdout).toContain('pushes to alice are on again');

    const after = await w.startSignIn();
    const resumed = await sendPush(after.browser, after.next.body);
    expect(textOf(resumed.body, 'notice')).toBeNull();
    await w.pushService.waitForMessage(subscription!.id);
  });
});
