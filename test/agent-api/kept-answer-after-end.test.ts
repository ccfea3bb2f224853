import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { newestChallenge } from '../signin/helpers.js';
import { AGENT_ENV, AGENTS, authenticate, call, freshIp, freshUser, PASSWORD } from './helpers.js';

/**
 * Red-team (races): a transaction's final answer is kept 30 s for polls that retry, and a kept
 * "approved" was handed to every later poll without looking at the account again: after a device
 * revoke or `user sign-out` had finished (the account's sessions ended), or a disable, a gateway's
 * retry or second worker still read `approved`. A kept approval is now checked each time it is given,
 * as the browser's resume checks a held result, and becomes a refusal for good.
 */
describe.each([['Redis', 'real'], ['the in-process stand-in (the embedded setup)', 'standin']] as const)('a kept approval on %s', (_name, redis) => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: redis === 'standin' ? 'pglite' : 'postgres', redis, agents: AGENTS, env: AGENT_ENV } }); });
  afterAll(() => w.close());

  async function approvedTransaction() {
    const user = await freshUser(w);
    const start = await authenticate(w, { username: user.username, password: PASSWORD, client_ip: freshIp(), mode: 'poll' });
    expect(start.status).toBe(202);
    const tx = start.body.transaction_id as string;
    const challenge = await newestChallenge(user.phone!.phone);
    expect((await user.phone!.phone.respond(challenge.id, 'approve')).status).toBe(200);
    const first = await call(w, 'GET', `/api/agent/transactions/${tx}`);
    expect([first.status, first.body.status]).toEqual([200, 'approved']);
    const again = await call(w, 'GET', `/api/agent/transactions/${tx}`);
    expect([again.status, again.body.status]).toEqual([200, 'approved']); // kept for a retry
    return { ...user, tx };
  }

  it('is refused once the approving device is revoked (the account\'s sessions ended), and stays refused', async () => {
    const { accountId, phone, tx } = await approvedTransaction();
    await w.t.idp.deviceService.revokeDevice(accountId, phone!.phone.deviceId);
    for (let i = 0; i < 2; i++) {
      const after = await call(w, 'GET', `/api/agent/transactions/${tx}`);
      expect(after.status).toBe(403);
      expect(after.body.error).toBe('access_denied');
    }
  });

  it('is refused once the account is disabled', async () => {
    const { accountId, tx } = await approvedTransaction();
    await w.t.idp.accounts.setDisabled(accountId, true);
    const after = await call(w, 'GET', `/api/agent/transactions/${tx}`);
    expect([after.status, after.body.error]).toEqual([403, 'access_denied']);
  });
});
