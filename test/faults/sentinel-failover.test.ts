import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { PrivatePostgres, PrivateSentinel } from '../support/private-servers.js';
import { waitUntil } from '../signin/helpers.js';
import { approveThrough, finish, Fleet, pendingOn, pollUntilAnswered, rows } from './fleet.js';

/**
 * A Sentinel failover mid-sign-in (issue 14, items 1 and 6), on a private Sentinel group (master,
 * replica, three Sentinels) this file starts: the push is pending when the master is killed;
 * the Sentinels promote the replica, ioredis follows them, and the sign-in completes.
 */
describe('a Sentinel failover mid-sign-in', () => {
  let group: PrivateSentinel;
  let pgServer: PrivatePostgres;
  let push: PushServiceDouble;
  let fleet: Fleet;

  beforeAll(async () => {
    [group, pgServer, push] = await Promise.all([PrivateSentinel.start('faults'), PrivatePostgres.start(), startPushService()]);
    fleet = await Fleet.start({ databaseUrl: pgServer.url, redisUrl: group.url, pushService: push, count: 2 });
  }, 300_000);

  afterAll(async () => {
    await fleet?.stop();
    await Promise.all([group?.stop(), pgServer?.stop(), push?.close()]);
  }, 120_000);

  it('completes the sign-in after the master is killed and the replica promoted', async () => {
    const alice = await fleet.user('alice', push, 1);
    const s = await fleet.toWaitingPage('alice');
    const challenge = await pendingOn(alice.phone);
    const oldMaster = group.master.port;
    // What was acknowledged has reached the replica (WAIT), as it has in the ordinary course.
    expect(Number(group.master.cli('wait', '1', '5000'))).toBe(1);

    await group.master.kill();
    await waitUntil(async () => { const p = group.masterPort(); return p !== null && p !== oldMaster; }, 60_000, 'the Sentinels to promote the replica');
    expect(group.masterPort()).toBe(group.replica.port);

    const waiting = pollUntilAnswered(fleet.urls[0]!, s.browser, s.uid, 120_000);
    const answer = await approveThrough(alice.phone, challenge.id, s.number, 120_000);
    expect(answer.body).toEqual({ status: 'approved' });
    const status = await waiting;
    expect(status.body).toMatchObject({ status: 'approved' });
    const tokens = await finish(s, status.body.next!);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    const audited = (await rows(pgServer.url, 'SELECT type FROM audit_events')).map((r) => r.type);
    expect(audited).toEqual(expect.arrayContaining(['device.enrolled', 'signin.success']));
  }, 300_000);
});
