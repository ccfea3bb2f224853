import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPair, CompactSign } from 'jose';
import type { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, enroll, pushStatus, sendPush, signedInToWaitingPage, startWorld, textOf } from '../signin/helpers.js';

/**
 * docs/device-api.md section 4a: Deny, then "Was this you? — No, report it". A report after the fact
 * does what a one-step `report` does (push.reported, pushes muted, the phone told until when), and
 * only for a request a phone of the same user denied, once. Whoever holds no device key, or another
 * user's, or replays a report, changes nothing. The computer's page only ever says "denied".
 */
const MUTE_S = 1200;

describe('reporting a denied sign-in request', () => {
  let w: PushWorld;
  let users = 0;
  beforeAll(async () => {
    w = await startWorld({ login: { numberMatching: false }, idp: { env: { PUSH_MUTE_AFTER_REPORT: String(MUTE_S) } } });
  });
  afterAll(() => w.close());

  /** A fresh user (a report mutes the whole account) with a phone and one pending request to it. */
  async function requestTo() {
    const username = `user${++users}`;
    const accountId = await addUser(w, username);
    const { phone, subscription } = await enroll(w, { accountId });
    const signIn = await signedInToWaitingPage(w, { username });
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid as string;
    return { username, accountId, phone, subscription: subscription!, cid, ...signIn };
  }
  const report = (phone: Awaited<ReturnType<typeof requestTo>>['phone'], cid: string) =>
    phone.request<Record<string, unknown>>('POST', `/api/device/challenges/${cid}/report`);
  const reportsOf = async (cid: string) => (await auditEvents(w, 'push.reported')).filter((e) => e.detail.challengeId === cid);
  const mutesOf = async (cid: string) => (await auditEvents(w, 'push.muted')).filter((e) => e.detail.challengeId === cid);

  it('after a Deny, mutes pushes to the account and says until when; the computer still reads "denied"', async () => {
    const r = await requestTo();
    expect((await r.phone.respond(r.cid, 'deny')).body).toEqual({ status: 'denied', reason: 'denied' });
    const before = Date.now();
    const res = await report(r.phone, r.cid);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('reported');
    const until = res.body.pausedUntil as number;
    expect(until).toBeGreaterThanOrEqual(before + MUTE_S * 1000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + MUTE_S * 1000 + 1000);

    const [audit] = await reportsOf(r.cid);
    expect(audit).toMatchObject({ account_id: r.accountId, detail: { reason: 'reported', deviceId: r.phone.deviceId } });
    expect(await mutesOf(r.cid)).toHaveLength(1);

    // The computer's page: denied, never "reported" (whoever is there may be the attacker).
    expect(await pushStatus(r.browser, r.uid)).toMatchObject({ status: 'denied', reason: 'denied' });
    const waitPage = await r.browser.go(`/interaction/${r.uid}/wait`);
    expect(waitPage.body).not.toMatch(/report/i);

    // A new sign-in gets no push: the account is muted.
    const again = await w.startSignIn({ username: r.username });
    const page = await sendPush(again.browser, again.next.body);
    expect(textOf(page.body, 'notice')).toMatch(/paused|not sent|passcode/i);
    await expect(w.pushService.waitForMessage(r.subscription.id, 400)).rejects.toThrow(/no push/);
  });

  it('is refused a second time (409 already_reported), also when two reports race, and changes nothing', async () => {
    const r = await requestTo();
    await r.phone.respond(r.cid, 'deny');
    const [a, b] = await Promise.all([report(r.phone, r.cid), report(r.phone, r.cid)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const third = await report(r.phone, r.cid);
    expect(third.status).toBe(409);
    expect(third.body.error).toBe('already_reported');
    expect(await reportsOf(r.cid)).toHaveLength(1);
    expect(await mutesOf(r.cid)).toHaveLength(1);
  });

  it('is refused for a request reported in one step (the respond API\'s "report")', async () => {
    const r = await requestTo();
    expect((await r.phone.respond(r.cid, 'report')).body).toEqual({ status: 'denied', reason: 'reported' });
    const res = await report(r.phone, r.cid);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('already_reported');
    expect(await reportsOf(r.cid)).toHaveLength(1);
  });

  it('is refused for an approved or a pending request (409 challenge_not_denied), and mutes nothing', async () => {
    const pending = await requestTo();
    const early = await report(pending.phone, pending.cid);
    expect(early.status).toBe(409);
    expect(early.body.error).toBe('challenge_not_denied');
    expect((await pending.phone.challenge(pending.cid)).status).toBe('pending');

    expect((await pending.phone.respond(pending.cid, 'approve')).status).toBe(200);
    const late = await report(pending.phone, pending.cid);
    expect(late.status).toBe(409);
    expect(late.body.error).toBe('challenge_not_denied');
    expect(await reportsOf(pending.cid)).toEqual([]);
    expect(await mutesOf(pending.cid)).toEqual([]);
    // Not muted: the next sign-in pushes again.
    const again = await signedInToWaitingPage(w, { username: pending.username });
    expect(textOf(again.wait.body, 'notice')).toBeNull();
    await w.pushService.waitForMessage(pending.subscription.id);
  });

  // Red-team: another device of the account, whose key alone (no TOTP) signs this call, muted the
  // account's pushes after the real phone's denial. Only the device that denied may report.
  it('is refused from another device of the same user (409 challenge_not_denied), and mutes nothing; the denying phone still may', async () => {
    const r = await requestTo();
    const { phone: second } = await enroll(w, { accountId: r.accountId, push: false, name: 'Second phone' });
    expect((await r.phone.respond(r.cid, 'deny')).status).toBe(200);
    const res = await report(second, r.cid);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('challenge_not_denied');
    expect(await reportsOf(r.cid)).toEqual([]);
    expect(await mutesOf(r.cid)).toEqual([]);
    expect((await report(r.phone, r.cid)).status).toBe(200);
  });

  it("is refused for another user's request (404, as if it did not exist)", async () => {
    const victim = await requestTo();
    await victim.phone.respond(victim.cid, 'deny');
    const other = await requestTo();
    const res = await report(other.phone, victim.cid);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('challenge_not_found');
    expect(await reportsOf(victim.cid)).toEqual([]);
    // The victim's own report still works afterwards: the refusal marked nothing.
    expect((await report(victim.phone, victim.cid)).status).toBe(200);
  });

  it('is refused unsigned, with a forged signature, replayed, or bound to another path (401)', async () => {
    const r = await requestTo();
    await r.phone.respond(r.cid, 'deny');
    const path = `/api/device/challenges/${r.cid}/report`;
    const post = (authorization?: string) =>
      fetch(`${w.t.url}${path}`, { method: 'POST', headers: authorization ? { authorization } : {} });

    expect((await post()).status).toBe(401);
    // The device's id and claims, signed by a key that is not the device's.
    const { privateKey } = await generateKeyPair('ES256');
    const iat = Math.floor(Date.now() / 1000);
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify({
      iss: r.phone.deviceId, aud: `${w.t.url}/api/device`, htm: 'POST', htu: path, iat, exp: iat + 60, jti: 'forged-jti-0123456789',
    }))).setProtectedHeader({ alg: 'ES256', kid: r.phone.deviceId, typ: 'device-auth+jwt' }).sign(privateKey);
    const forgedRes = await post(`Device ${forged}`);
    expect(forgedRes.status).toBe(401);
    expect(((await forgedRes.json()) as { error: string }).error).toBe('invalid_token');
    // A genuine token for another call (reading the request) does not report it.
    expect((await post(await r.phone.authHeader('GET', `/api/device/challenges/${r.cid}`))).status).toBe(401);
    // A genuine report token, sent twice: the second is a replay.
    const once = await r.phone.authHeader('POST', path);
    expect((await post(once)).status).toBe(200);
    const replay = await post(once);
    expect(replay.status).toBe(401);
    expect(await reportsOf(r.cid)).toHaveLength(1);
  });

  it('answers odd bytes in the id with a clear 4xx, never a 500', async () => {
    const r = await requestTo();
    await r.phone.respond(r.cid, 'deny');
    for (const id of ['%00', 'a'.repeat(300), '..%2F..%2Fenroll', '%E2%80%AE', 'constructor', `${r.cid}%20`, '__proto__']) {
      const path = `/api/device/challenges/${id}/report`;
      const res = await fetch(`${w.t.url}${path}`, { method: 'POST', headers: { authorization: await r.phone.authHeader('POST', path) } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect(await reportsOf(r.cid)).toEqual([]);
    expect((await report(r.phone, r.cid)).status).toBe(200);
  });
});
