import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, enroll, movableClock } from '../signin/helpers.js';
import { authenticate, freshIp, freshUser, PASSWORD, startAgentWorld } from '../agent-api/helpers.js';
import { radclient, request, startRadiusWorld, type RadiusWorld } from '../radius/world.js';

/**
 * The agent API and RADIUS's `password,code` promise one answer for an unknown user, a wrong
 * password and a wrong passcode. Red-team (oracles): the answer was the same, but a right password
 * gave the account's failures back even when its passcode was wrong, so the NEXT attempt told a
 * right password (not throttled) from a wrong one (throttled), with no push ever sent: a silent
 * password check through a VPN portal. Now a right password with a wrong code counts as a failed
 * attempt; a right password with a right code still starts the count afresh.
 */
describe('the passcode doors: a right password with a wrong code counts as a failure', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld({ now: clock.now }); });
  afterAll(() => w.close());

  /** Three sure failures, then the candidate with `code`, then one more failure: what the last one is answered. */
  async function probe(username: string, candidate: string, code: string) {
    for (let i = 0; i < 3; i++) expect((await authenticate(w, { username, password: `surely wrong ${i}`, passcode: '000000', client_ip: freshIp() })).status).toBe(403);
    clock.advance(1500); // past the delay the fourth attempt waits
    const guess = await authenticate(w, { username, password: candidate, passcode: code, client_ip: freshIp() });
    const after = await authenticate(w, { username, password: 'surely wrong probe', passcode: '000000', client_ip: freshIp() });
    return { guess, after };
  }

  it('agent API: the attempt after a right password with a wrong code is throttled exactly as after a wrong password', async () => {
    const wrong = await probe((await freshUser(w)).username, 'not the password', '000000');
    const right = await probe((await freshUser(w)).username, PASSWORD, '000000');
    expect(right.guess.status).toBe(403);
    expect(right.guess.body).toEqual(wrong.guess.body);
    expect(wrong.after.status).toBe(429);
    expect(right.after.status).toBe(wrong.after.status);
    expect(right.after.body).toMatchObject({ error: 'rate_limited' });
    expect(right.after.headers.get('retry-after')).toBe(wrong.after.headers.get('retry-after'));
    expect((await auditEvents(w, 'push.sent')).length).toBe(0);
  });

  it('agent API: a right password with a right code still starts the count afresh', async () => {
    const user = await freshUser(w);
    const ok = await probe(user.username, PASSWORD, user.phone!.phone.currentTotp());
    expect(ok.guess.status).toBe(200);
    expect(ok.after.status).toBe(403); // a plain failure, no delay carried over
  });
});

describe('RADIUS password,code: the same', () => {
  let r: RadiusWorld;
  const send = (user: string, password: string) =>
    radclient({ port: r.port, secret: r.secrets['vpn']!, attributes: request({ user, password }), timeoutSeconds: 10 });
  beforeAll(async () => {
    r = await startRadiusWorld([{ name: 'vpn', displayName: 'VPN', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 5 }]);
  });
  afterAll(async () => { await r?.close(); });

  async function probe(user: string, candidate: string) {
    for (let i = 0; i < 3; i++) expect((await send(user, `surely wrong ${i},000000`)).attributes['Reply-Message']).toBe('Authentication failed.');
    await new Promise((res) => setTimeout(res, 1300)); // the delay after three failures
    const guess = await send(user, `${candidate},000000`);
    const after = await send(user, 'surely wrong probe,000000');
    return { guess, after };
  }

  it('the request after a right password with a wrong code is refused as after a wrong password', async () => {
    const u1 = `po${Math.random().toString(36).slice(2, 8)}`;
    const u2 = `po${Math.random().toString(36).slice(2, 8)}`;
    await enroll(r.w, { accountId: await addUser(r.w, u1) });
    await enroll(r.w, { accountId: await addUser(r.w, u2) });
    const wrong = await probe(u1, 'not the password');
    const right = await probe(u2, PushWorld.password);
    expect(right.guess.code).toBe('Access-Reject');
    expect(right.guess.attributes['Reply-Message']).toBe(wrong.guess.attributes['Reply-Message']);
    expect(wrong.after.attributes['Reply-Message']).toMatch(/^Too many attempts: try again in \d+ seconds?\.$/);
    expect(right.after.attributes['Reply-Message']).toMatch(/^Too many attempts: try again in \d+ seconds?\.$/);
    expect((await auditEvents(r.w, 'push.sent')).length).toBe(0);
  }, 60_000);
});
