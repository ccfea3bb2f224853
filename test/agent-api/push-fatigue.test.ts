import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_PUSH_FATIGUE } from '../../src/defences/push-fatigue.js';
import type { PushWorld } from '../support/push-world.js';
import { newestChallenge } from '../signin/helpers.js';
import { authenticate, call, freshIp, freshUser, PASSWORD, startAgentWorld } from './helpers.js';

/**
 * Guards push bombing through a gateway: the account-wide push-fatigue limits of the login page
 * (src/defences/push-fatigue.ts) hold for the agent API too, since each call is a new sign-in and
 * per-sign-in limits alone would allow endless pushes. Unanswered pushes force number matching
 * (even on a gateway that does not ask for it), then stop; "deny and report" mutes pushes. The
 * passcode keeps working throughout.
 */
describe('agent API: push fatigue', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld(); });
  afterAll(() => w.close());

  it('unanswered pushes force number matching on a gateway without it, then no push is sent (429); the passcode still works', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const numbers: Array<unknown> = [];
    for (let i = 0; i < DEFAULT_PUSH_FATIGUE.limit; i++) {
      const res = await authenticate(w, { username, password: PASSWORD, mode: 'poll', client_ip: freshIp() });
      expect(res.status).toBe(202);
      numbers.push(res.body.match_number);
      await newestChallenge(phone!.phone);
      expect((await call(w, 'DELETE', `/api/agent/transactions/${String(res.body.transaction_id)}`)).status).toBe(204);
    }
    // The gateway 'vpn' has numberMatching off: the first pushes carry no number, later ones must.
    expect(numbers.slice(0, DEFAULT_PUSH_FATIGUE.forceMatchAfter)).toEqual(Array(DEFAULT_PUSH_FATIGUE.forceMatchAfter).fill(null));
    for (const n of numbers.slice(DEFAULT_PUSH_FATIGUE.forceMatchAfter)) expect(typeof n).toBe('number');

    const refused = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp() });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'rate_limited' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await phone!.phone.pending()).toEqual([]);

    const typed = await authenticate(w, { username, password: PASSWORD, passcode: phone!.phone.currentTotp(), client_ip: freshIp() });
    expect(typed.status).toBe(200);
    expect(typed.body).toMatchObject({ account: { id: accountId } });
  });

  it('"deny and report" on the phone mutes pushes for the account: later calls get 403 without a push', async () => {
    const { username, phone } = await freshUser(w);
    const first = authenticate(w, { username, password: PASSWORD, client_ip: freshIp() });
    const challenge = await newestChallenge(phone!.phone);
    expect((await phone!.phone.respond(challenge.id, 'report')).status).toBe(200);
    expect((await first).body).toMatchObject({ error: 'access_denied' });

    const muted = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp() });
    expect(muted.status).toBe(403);
    expect(muted.body).toMatchObject({ error: 'access_denied', error_description: expect.stringContaining('passcode') });
    expect(await phone!.phone.pending()).toEqual([]);
  });
});
