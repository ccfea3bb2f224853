import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACCOUNT_POLICY } from '../../src/defences/throttle.js';
import type { PushWorld } from '../support/push-world.js';
import { auditEvents } from '../signin/helpers.js';
import { authenticate, freshIp, freshUser, startAgentWorld } from './helpers.js';

/**
 * Guards the race an outside audit found at the login page (many guesses sent at once all read the
 * same failure count and were all checked): through the agent API, 200 parallel wrong passwords
 * for one user get exactly ACCOUNT_POLICY.freeFailures checks; every other one is refused with
 * 429 before its password is looked at. The clock stands still so that no delay runs out meanwhile.
 */
describe('agent API: parallel password guessing', () => {
  const frozen = Date.now();
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld({ now: () => frozen }); });
  afterAll(() => w.close());

  it('200 parallel wrong passwords: only the allowed number are checked, the rest get 429', async () => {
    const { username, accountId } = await freshUser(w, { phone: false });
    const ip = freshIp();
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      authenticate(w, { username, password: `parallel guess ${i}`, client_ip: ip })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 403)).toHaveLength(ACCOUNT_POLICY.freeFailures);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200 - ACCOUNT_POLICY.freeFailures);
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.body).toMatchObject({ error: 'rate_limited' });
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The audit trail agrees: as many passwords checked (and failed) as answered 403.
    expect((await auditEvents(w, 'signin.failure')).filter((e) => e.account_id === accountId)).toHaveLength(ACCOUNT_POLICY.freeFailures);
  });
});
