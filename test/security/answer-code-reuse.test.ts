import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import type { PushWorld } from '../support/push-world.js';
import { authenticate, freshIp, PASSWORD, startAgentWorld } from '../agent-api/helpers.js';
import { addUser, auditEvents, CALLBACK, enroll, recordingFetch, waitUntil } from '../signin/helpers.js';

/**
 * A one-time secret the user gives spends only what it was given for.
 * - After a phone's approval or denial, the code on screen stays typeable once (audit item 10: the
 *   code the app shows must work; a user who denied pushes they did not ask for signs in with it).
 * - Red-team (second factors): a recovery code whose sign-in did not finish (a double submit that
 *   another code finished first) was used up for nothing.
 */
describe('codes a user gives spend only what they were given for', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld(); });
  afterAll(() => w.close());

  const codeIn = (jws: string): { otp: string; decision: string } =>
    JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as { otp: string; decision: string };

  async function userWithRecordedPhone(name: string) {
    const username = `${name}-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await addUser(w, username);
    const rec = recordingFetch();
    const { phone } = await enroll(w, { accountId, fetch: rec.fetch });
    return { username, accountId, phone, rec };
  }

  it.each(['approve', 'deny'] as const)('after the phone answers %s, the code its answer carried is typeable once, not twice', async (decision) => {
    const u = await userWithRecordedPhone(`${decision}-code`);
    const ip = freshIp();
    const start = await authenticate(w, { username: u.username, password: PASSWORD, passcode: '', mode: 'poll', client_ip: ip });
    expect(start.status).toBe(202);
    const ch = await waitUntil(async () => (await u.phone.pending())[0] ?? null);
    expect((await u.phone.respond(ch.id, decision)).status).toBe(200);
    const seen = codeIn(u.rec.responses.at(-1)!);
    expect(seen.decision).toBe(decision);
    const typed = await authenticate(w, { username: u.username, password: PASSWORD, passcode: seen.otp, client_ip: ip });
    expect(typed.status).toBe(200);
    expect(typed.body).toMatchObject({ status: 'approved' });
    const again = await authenticate(w, { username: u.username, password: PASSWORD, passcode: seen.otp, client_ip: ip });
    expect(again.status).toBe(403);
  });

  it('of two recovery codes submitted at once on one sign-in, only the one that finished it is spent', async () => {
    const username = `recovery-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await addUser(w, username);
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'test');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { confirm: true });
    await w.t.idp.deviceService.revokeDevice(accountId, phone.deviceId); // the phone is lost
    const codes = offer.recoveryCodes!;
    const unused = async () => (await w.t.idp.db.query('SELECT 1 FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL', [accountId])).length;
    expect(await unused()).toBe(codes.length);
    for (let round = 0; round < 3; round++) {
      const s = await w.startSignIn({ username });
      expect(s.next.url).toMatch(/\/recovery$/);
      const pair = [codes[round * 2]!, codes[round * 2 + 1]!];
      const results = await Promise.all(pair.map((code) => s.browser.submit(s.next.body, /\/recovery$/, { code })));
      expect(results.filter((r) => CALLBACK.test(r.url))).toHaveLength(1);
      expect(await unused()).toBe(codes.length - (round + 1));
      const used = (await auditEvents(w, 'recovery_code.used')).filter((e) => e.account_id === accountId);
      expect(used).toHaveLength(round + 1);
    }
    // The code given back still signs in: of the first pair, one was spent and the other was not.
    const s = await w.startSignIn({ username });
    const tries = [];
    for (const code of [codes[0]!, codes[1]!]) tries.push(CALLBACK.test((await s.browser.submit(s.next.body, /\/recovery$/, { code })).url));
    expect(tries.filter(Boolean)).toHaveLength(1);
  });
});
