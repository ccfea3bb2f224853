import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_ACR } from '../../src/config/clients.js';
import { wrongTotp } from '../support/authenticator.js';
import type { PushWorld } from '../support/push-world.js';
import { auditEvents, newestChallenge, waitUntil } from '../signin/helpers.js';
import { authenticate, call, freshIp, freshUser, MATCHING, OTHER, PASSWORD, startAgentWorld, VPN } from './helpers.js';

/**
 * The agent API as a VPN gateway uses it (docs/agent-api.md): username + password + passcode in
 * one call; an empty passcode sends a push and the call waits for the phone (or hands out a
 * transaction to poll); 6 digits are checked at once. Every answer is what a gateway, or someone
 * trying credentials through one, observes.
 */
describe('agent API: push and passcode', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld(); });
  afterAll(() => w.close());

  it('wait mode: an empty passcode sends a push named after the gateway; approval answers 200 with the account, amr and acr', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const ip = freshIp();
    const answer = authenticate(w, { username, password: PASSWORD, passcode: '', client_ip: ip });
    const challenge = await newestChallenge(phone!.phone);
    // The phone shows the gateway as the app asking, and the end user's address the gateway gave.
    expect(challenge.app).toBe('Corporate VPN');
    expect(challenge.ip).toBe(ip);
    expect(challenge.numberChoices ?? null).toBeNull();
    expect((await phone!.phone.respond(challenge.id, 'approve')).status).toBe(200);
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({
      status: 'approved', account: { id: accountId, username }, amr: ['pwd', 'otp', 'swk', 'mfa'], acr: DEFAULT_ACR.mfa,
    });
    const success = (await auditEvents(w, 'signin.success')).filter((e) => e.account_id === accountId);
    expect(success).toHaveLength(1);
    expect(success[0]).toMatchObject({ client_id: 'vpn', detail: { via: 'push' } });
  });

  it('wait mode: a one-character passcode also means push; a denial answers 403 access_denied', async () => {
    const { username, phone } = await freshUser(w);
    const answer = authenticate(w, { username, password: PASSWORD, passcode: 'p', client_ip: freshIp() });
    const challenge = await newestChallenge(phone!.phone);
    expect((await phone!.phone.respond(challenge.id, 'deny')).status).toBe(200);
    const res = await answer;
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'access_denied', error_description: 'the sign-in was denied on the phone' });
  });

  it('wait mode is bounded: unanswered, the call ends with 403 timeout and the push is withdrawn (a late approval is refused)', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const answer = authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), wait: 1 });
    const challenge = await newestChallenge(phone!.phone);
    const res = await answer;
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'timeout' });
    expect((await phone!.phone.challenge(challenge.id)).status).toBe('expired');
    const late = await phone!.phone.respond(challenge.id, 'approve');
    expect(late.status).toBe(410);
    expect((await auditEvents(w, 'signin.success')).filter((e) => e.account_id === accountId)).toHaveLength(0);
  });

  it('wait: 0 answers at once with the transaction to poll, as poll mode does, and the phone can still approve it', async () => {
    const { username, accountId, phone } = await freshUser(w);
    // Red-team: it answered 403 timeout and withdrew the push it had just sent (a ring no one could approve).
    const start = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), wait: 0 });
    expect(start.status).toBe(202);
    expect(start.body).toMatchObject({ status: 'pending', transaction_id: expect.any(String) });
    const challenge = await newestChallenge(phone!.phone);
    expect(challenge.status).toBe('pending');
    expect((await phone!.phone.respond(challenge.id, 'approve')).status).toBe(200);
    const res = await call(w, 'GET', `/api/agent/transactions/${String(start.body.transaction_id)}?wait=5`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'approved', account: { id: accountId, username } });
  });

  it.each([3600, 86_400])("a wait longer than the gateway allows (%i s) is cut to its max_wait_seconds: the call ends with timeout", async (wait) => {
    const { username, phone } = await freshUser(w);
    // other-gateway allows 2 seconds; an hour or a day is asked for (red-team: over 3600 was a 400, the docs say capped).
    const answer = authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), wait }, OTHER);
    const challenge = await newestChallenge(phone!.phone);
    const res = await answer;
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'timeout' });
    expect((await phone!.phone.challenge(challenge.id)).status).toBe('expired');
  });

  it.each(['86400', '99999999999999999999'])('a poll with ?wait=%s is held for the gateway\'s max_wait_seconds, not refused', async (wait) => {
    const { username } = await freshUser(w);
    // Red-team: five digits or more were a 400, where the docs say capped (as the body's wait is).
    const start = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), mode: 'poll' }, OTHER);
    expect(start.status).toBe(202);
    const began = Date.now();
    const res = await call(w, 'GET', `/api/agent/transactions/${String(start.body.transaction_id)}?wait=${wait}`, { auth: OTHER });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending' });
    // other-gateway allows 2 seconds: held about that long, then answered.
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_500);
  });

  it('a one-character passcode outside the BMP (one code point, two UTF-16 units) sends a push, as at RADIUS', async () => {
    const { username, phone } = await freshUser(w);
    const answer = authenticate(w, { username, password: PASSWORD, passcode: '\u{1F600}', client_ip: freshIp(), wait: 1 }, OTHER);
    const challenge = await newestChallenge(phone!.phone);
    expect(challenge.status).toBe('pending');
    expect((await answer).body).toMatchObject({ error: 'timeout' });
  });

  it('a gateway that hangs up while waiting withdraws the push: the phone can no longer approve it', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const abort = new AbortController();
    const answer = fetch(`${w.t.url}/api/agent/authenticate`, {
      method: 'POST', signal: abort.signal,
      headers: { authorization: VPN, 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD, client_ip: freshIp() }),
    }).catch((err: unknown) => err);
    const challenge = await newestChallenge(phone!.phone);
    abort.abort();
    await answer;
    await waitUntil(async () => (await phone!.phone.challenge(challenge.id)).status === 'expired', 5000, 'the push withdrawn');
    expect((await phone!.phone.respond(challenge.id, 'approve')).status).toBe(410);
    expect((await auditEvents(w, 'signin.success')).filter((e) => e.account_id === accountId)).toHaveLength(0);
  });

  it('poll mode with number matching: 202 with the transaction and the number, pending, then approved on the phone', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const start = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), mode: 'poll' }, MATCHING);
    expect(start.status).toBe(202);
    expect(start.body).toMatchObject({ status: 'pending', transaction_id: expect.any(String), match_number: expect.any(Number), expires_in: expect.any(Number) });
    const tx = start.body.transaction_id as string;
    const number = start.body.match_number as number;
    const challenge = await newestChallenge(phone!.phone);
    expect(challenge.app).toBe('Branch VPN');
    expect(challenge.numberChoices).toContain(number);

    const still = await call(w, 'GET', `/api/agent/transactions/${tx}`, { auth: MATCHING });
    expect(still.status).toBe(202);
    expect(still.body).toMatchObject({ status: 'pending', transaction_id: tx, match_number: number });

    // A long-poll held open is woken by the approval (the waiting page's wake-up path).
    const held = call(w, 'GET', `/api/agent/transactions/${tx}?wait=15`, { auth: MATCHING });
    expect((await phone!.phone.respond(challenge.id, 'approve', { number })).status).toBe(200);
    const done = await held;
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ status: 'approved', account: { id: accountId, username }, amr: ['pwd', 'otp', 'swk', 'mfa'], acr: DEFAULT_ACR.mfa });
    // The final answer is kept a short while: a poll that lost it (a retry) gets the same one, another gateway nothing.
    const again = await call(w, 'GET', `/api/agent/transactions/${tx}`, { auth: MATCHING });
    expect([again.status, again.body]).toEqual([200, done.body]);
    expect((await call(w, 'GET', `/api/agent/transactions/${tx}`, { auth: OTHER })).status).toBe(404);
  });

  // Red-team: two polls of an approved transaction at once got 404 and "expired"; the approval was lost.
  it('two polls at once of an approved transaction both get the approval', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const start = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), mode: 'poll' });
    const tx = start.body.transaction_id as string;
    const challenge = await newestChallenge(phone!.phone);
    // One long-poll held before the approval (whose client may have given up and retried), then more at once.
    const held = call(w, 'GET', `/api/agent/transactions/${tx}?wait=10`);
    await new Promise((r) => setTimeout(r, 200));
    const approved = phone!.phone.respond(challenge.id, 'approve');
    const polls = await Promise.all([held, ...Array.from({ length: 12 }, () => call(w, 'GET', `/api/agent/transactions/${tx}`))]);
    expect((await approved).status).toBe(200);
    for (const p of polls) expect([p.status, p.body]).toEqual([200, expect.objectContaining({ status: 'approved', account: { id: accountId, username } })]);
    expect((await auditEvents(w, 'signin.success')).filter((e) => e.account_id === accountId)).toHaveLength(1);
  });

  it('with number matching on, even a wait-mode call answers 202 at once: the gateway must show the number', async () => {
    const { username, phone } = await freshUser(w);
    const start = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp() }, MATCHING);
    expect(start.status).toBe(202);
    const challenge = await newestChallenge(phone!.phone);
    const wrong = challenge.numberChoices!.find((n) => n !== start.body.match_number)!;
    await phone!.phone.respond(challenge.id, 'approve', { number: wrong });
    const res = await call(w, 'GET', `/api/agent/transactions/${String(start.body.transaction_id)}`, { auth: MATCHING });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'access_denied' });
  });

  it("another gateway cannot read, wait on or cancel a transaction: it reads as one that does not exist", async () => {
    const { username, accountId, phone } = await freshUser(w);
    const start = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), mode: 'poll' });
    const tx = start.body.transaction_id as string;
    const unknown = await call(w, 'GET', '/api/agent/transactions/no-such-transaction-0123456789', { auth: OTHER });
    for (const method of ['GET', 'DELETE']) {
      const res = await call(w, method, `/api/agent/transactions/${tx}`, { auth: OTHER });
      expect(res.status).toBe(404);
      expect(res.body).toEqual(unknown.body);
    }
    // The owner still finishes it.
    const challenge = await newestChallenge(phone!.phone);
    await phone!.phone.respond(challenge.id, 'approve');
    const done = await call(w, 'GET', `/api/agent/transactions/${tx}?wait=10`, { auth: VPN });
    expect(done.body).toMatchObject({ status: 'approved', account: { id: accountId } });
  });

  it('the owner can cancel a transaction: the push is withdrawn from the phone', async () => {
    const { username, phone } = await freshUser(w);
    const start = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp(), mode: 'poll' });
    const tx = start.body.transaction_id as string;
    const challenge = await newestChallenge(phone!.phone);
    expect((await call(w, 'DELETE', `/api/agent/transactions/${tx}`)).status).toBe(204);
    expect((await phone!.phone.challenge(challenge.id)).status).toBe('expired');
    expect((await call(w, 'GET', `/api/agent/transactions/${tx}`)).status).toBe(404);
  });

  it('a right 6-digit passcode is checked at once: 200 with pwd + otp, and no push is sent', async () => {
    const { username, accountId, phone } = await freshUser(w);
    const passcode = phone!.phone.currentTotp();
    const res = await authenticate(w, { username, password: PASSWORD, passcode, client_ip: freshIp() });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'approved', account: { id: accountId, username }, amr: ['pwd', 'otp', 'mfa'], acr: DEFAULT_ACR.mfa });
    expect(await phone!.phone.pending()).toEqual([]);
    // RFC 6238 5.2: the same code does not work twice. (The very code sent: a
    // second currentTotp() read across a 30-second step is a new, valid code.)
    const again = await authenticate(w, { username, password: PASSWORD, passcode, client_ip: freshIp() });
    expect(again.status).toBe(403);
  });

  it('a wrong passcode, a wrong password and an unknown user get the very same answer', async () => {
    const { username, phone } = await freshUser(w);
    const wrongCode = await authenticate(w, { username, password: PASSWORD, passcode: wrongTotp(phone!.phone.totpSecret, Date.now()), client_ip: freshIp() });
    const wrongPassword = await authenticate(w, { username, password: 'not the password', passcode: '', client_ip: freshIp() });
    const unknownUser = await authenticate(w, { username: `nobody-${Date.now()}`, password: PASSWORD, passcode: '', client_ip: freshIp() });
    for (const res of [wrongCode, wrongPassword, unknownUser]) {
      expect(res.status).toBe(403);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect(wrongPassword.body).toEqual({ error: 'access_denied', error_description: 'the username, password or passcode is not right' });
    expect(unknownUser.body).toEqual(wrongPassword.body);
    expect(wrongCode.body).toEqual(wrongPassword.body);
    // No push went to the user for the wrong password.
    expect(await phone!.phone.pending()).toEqual([]);
  });

  it('a user without any authenticator gets 403 push_unavailable (the gateway default is MFA or nothing)', async () => {
    const { username } = await freshUser(w, { phone: false });
    const res = await authenticate(w, { username, password: PASSWORD, passcode: '', client_ip: freshIp() });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'push_unavailable' });
  });

  it('a malformed passcode is refused before the password is checked (400 for right and wrong passwords alike)', async () => {
    const { username, accountId } = await freshUser(w);
    const right = await authenticate(w, { username, password: PASSWORD, passcode: '12345', client_ip: freshIp() });
    const wrong = await authenticate(w, { username, password: 'nope', passcode: '12345', client_ip: freshIp() });
    expect(right.status).toBe(400);
    expect(wrong.body).toEqual(right.body);
    // Nothing was checked, so nothing was counted against the account.
    expect((await auditEvents(w, 'signin.failure')).filter((e) => e.account_id === accountId)).toEqual([]);
  });
});
