import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/accounts/passwords.js';
import type { RadiusServer } from '../../src/radius/index.js';
import { testRp } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';
import * as oidc from 'openid-client';
import { matchNumberOf, PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { PUSH_RESEND_MIN_INTERVAL_MS } from '../../src/signin/limits.js';
import { runAdminCli } from '../support/admin-cli.js';
import { addUser, enroll, newestChallenge, pushStatus, sendPush, waitUntil, type Phone } from '../signin/helpers.js';
import { AGENTS, AGENT_ENV, authenticate, call } from '../agent-api/helpers.js';
import { accessRequest, HandNas, REPLY_MESSAGE, replyAttributes, STATE } from '../radius/packets.js';

/**
 * Red-team (audit replay, item 7 at every door): ending an account's sessions (a new password,
 * `user sign-out`, `user disable`, a device revoke, /account's sign-out everywhere) left the pushes
 * of sign-ins begun before it pending on the phone. Approving one (the attacker's, made with the
 * old password, right after the admin reset it) was answered "approved" though no door would
 * finish it; after a disable, RADIUS kept answering "approve on your phone" with a fresh State and
 * the agent API "pending". Now the end withdraws them: the phone stops listing them, an answer to
 * one is 410, and each door ends its sign-in at once ("Send again" too).
 */
const code = (b: Buffer) => ({ 2: 'accept', 3: 'reject', 11: 'challenge' } as Record<number, string>)[b[0]!];
const stateOf = (b: Buffer) => replyAttributes(b).find(([t]) => t === STATE)?.[1];
const messageOf = (b: Buffer) => replyAttributes(b).find(([t]) => t === REPLY_MESSAGE)?.[1].toString() ?? '';

describe('pushes of sign-ins begun before the end of the account\'s sessions', () => {
  let w: PushWorld;
  let radius: RadiusServer;
  let nas: HandNas;
  const secret = randomBytes(30).toString('base64');
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'idp-ended-pushes-'));
  const redisPrefix = uniquePrefix('ended-pushes');

  beforeAll(async () => {
    for (const d of ['clients', 'radius', 'agents']) mkdirSync(path.join(configDir, d));
    cpSync(path.resolve('config/demo'), path.join(configDir, 'demo'), { recursive: true });
    writeFileSync(path.join(configDir, 'clients', 'test-rp.json'), JSON.stringify(testRp({ login: { consent: 'implicit' } })));
    for (const a of AGENTS) writeFileSync(path.join(configDir, 'agents', `${a.id}.json`), JSON.stringify(a));
    writeFileSync(path.join(configDir, 'radius', 'vpn.json'), JSON.stringify({ name: 'vpn', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 5, secretEnv: 'RADIUS_SECRET_VPN' }));
    w = await PushWorld.start({
      idp: { storage: 'postgres', redis: 'real', redisPrefix, env: { CONFIG_DIR: configDir, RADIUS_PORT: '0', RADIUS_HOST: '127.0.0.1', RADIUS_SECRET_VPN: secret, MAX_DEVICES_PER_ACCOUNT: '10', ...AGENT_ENV } },
    });
    radius = await w.t.idp.radius!.listen(0, '127.0.0.1');
    nas = await HandNas.open(radius.address().port);
  }, 60_000);
  afterAll(async () => {
    await nas?.close();
    await w?.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  const user = async (prefix: string): Promise<{ username: string; accountId: string; phone: Phone }> => {
    const username = `${prefix}-${randomBytes(3).toString('hex')}`;
    const accountId = await addUser(w, username);
    return { username, accountId, phone: await enroll(w, { accountId }) };
  };
  const radiusStart = (username: string) => nas.ask(accessRequest({ secret, user: username, password: PushWorld.password }));
  const radiusEnter = (username: string, first: Buffer) => nas.ask(accessRequest({ secret, user: username, password: '', attrs: [[STATE, stateOf(first)!]] }));

  it('a new password (as `user set-password` does): the phone stops listing the request, its approval is 410, RADIUS rejects', async () => {
    const u = await user('reset');
    const first = await radiusStart(u.username);
    expect(code(first)).toBe('challenge');
    const ch = await newestChallenge(u.phone.phone);
    await w.t.idp.accounts.setPasswordHash(u.accountId, await hashPassword('a brand new password 77'));
    const ended = await w.t.idp.endAccountSessions(u.accountId);
    expect(ended.pushes).toBe(1);
    expect(await u.phone.phone.pending()).toEqual([]);
    const number = Number(/number (\d{2})/.exec(messageOf(first))?.[1]);
    const answer = await u.phone.phone.respond(ch.id, 'approve', Number.isFinite(number) ? { number } : {});
    expect(answer.status).toBe(410);
    expect(answer.body).toMatchObject({ error: 'challenge_expired' });
    expect(code(await radiusEnter(u.username, first))).toBe('reject');
  });

  it('a disable ends the waiting sign-ins at RADIUS and the agent API at once, not after the push lapses', async () => {
    const u = await user('disable');
    const first = await radiusStart(u.username);
    const gateway = await authenticate(w, { username: u.username, password: PushWorld.password, mode: 'poll' });
    expect(gateway.status).toBe(202);
    await waitUntil(async () => (await u.phone.phone.pending()).length === 2, 5000, 'both pushes');
    await w.t.idp.accounts.setDisabled(u.accountId, true);
    expect((await w.t.idp.endAccountSessions(u.accountId)).pushes).toBe(2);
    const enter = await radiusEnter(u.username, first);
    expect(code(enter)).toBe('reject');
    const poll = await call(w, 'GET', `/api/agent/transactions/${String(gateway.body.transaction_id)}`);
    expect(poll.status).toBe(403);
  });

  it('the login page: the waiting page ends, "Send again" sends nothing, and a sign-in begun after the end works', async () => {
    const u = await user('page');
    const started = await w.startSignIn({ username: u.username });
    const wait = await sendPush(started.browser, started.next.body);
    expect(wait.url).toMatch(/\/wait$/);
    const ch = await newestChallenge(u.phone.phone);
    await w.t.idp.endAccountSessions(u.accountId); // /account's "sign out everywhere", or a revoke
    const status = await pushStatus(started.browser, started.uid);
    expect(status.status).toBe('expired');
    const again = await started.browser.submit(wait.body, /\/push$/, {});
    expect(again.res.status).toBeLessThan(500);
    expect(await u.phone.phone.pending()).toEqual([]);
    expect((await u.phone.phone.respond(ch.id, 'approve', { number: matchNumberOf(wait.body) ?? undefined })).status).toBe(410);
    const next = status.next ? await started.browser.go(status.next) : null;
    expect(next?.url ?? '').not.toMatch(/code=/);
    // Control: whoever signs in after the end gets the push and is let in.
    const after = await w.startSignIn({ username: u.username });
    const page = await sendPush(after.browser, after.next.body);
    const fresh = await newestChallenge(u.phone.phone);
    expect(fresh.id).not.toBe(ch.id);
    await new Promise((r) => setTimeout(r, 1000)); // a TOTP step the phone has not answered with yet
    expect((await u.phone.phone.respond(fresh.id, 'approve', { number: matchNumberOf(page.body) ?? undefined })).status).toBe(200);
    const done = await after.browser.go((await pushStatus(after.browser, after.uid)).next!);
    const tokens = await w.tokens(done.url, after.verifier, after.state);
    expect(tokens.claims()?.amr).toContain('mfa');
  }, 60_000);

  it('a sign-in left on its choice page across the end: its push never reaches the phone, and the sign-in ends', async () => {
    const u = await user('choice');
    const started = await w.startSignIn({ username: u.username }); // the old password, then the choice page
    expect(started.next.url).toMatch(/\/second-factor$/);
    await w.t.idp.accounts.setPasswordHash(u.accountId, await hashPassword('a brand new password 78'));
    await w.t.idp.endAccountSessions(u.accountId);
    const wait = await sendPush(started.browser, started.next.body);
    expect(wait.res.status).toBeLessThan(500);
    await waitUntil(async () => (await pushStatus(started.browser, started.uid).catch(() => ({ status: 'gone' }))).status !== 'pending', 5000, 'the request withdrawn');
    expect(w.pushService.messages.filter((m) => m.subscriptionId === u.phone.subscription!.id)).toHaveLength(0);
    expect(await u.phone.phone.pending()).toEqual([]);
    // "Send again" sends nothing either, and nothing finishes.
    const again = await started.browser.request(`/interaction/${started.uid}/push`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(/name="csrf" value="([^"]+)"/.exec(wait.body)?.[1] ?? '')}` });
    expect(again.status).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 300));
    expect(w.pushService.messages.filter((m) => m.subscriptionId === u.phone.subscription!.id)).toHaveLength(0);
    expect((await started.browser.go(`/interaction/${started.uid}/wait`)).url).not.toMatch(/code=/);
  });

  it("sign-ins voided by the end spend none of the account's push limit: the owner's next sign-in gets its push", async () => {
    const u = await user('limit');
    // Five sign-ins with the old password, left on their choice page (the attacker's).
    const held: Awaited<ReturnType<PushWorld['startSignIn']>>[] = [];
    for (let i = 0; i < 5; i += 1) held.push(await w.startSignIn({ username: u.username }));
    const newPassword = 'a brand new password 92';
    await w.t.idp.accounts.setPasswordHash(u.accountId, await hashPassword(newPassword));
    await w.t.idp.endAccountSessions(u.accountId);
    for (const s of held) expect((await sendPush(s.browser, s.next.body)).res.status).toBeLessThan(500);
    await waitUntil(async () => {
      const statuses = await Promise.all(held.map((s) => pushStatus(s.browser, s.uid).then((p) => p.status, () => 'gone')));
      return statuses.every((st) => st !== 'pending');
    }, 5000, 'the five requests withdrawn');
    const subscription = u.phone.subscription!.id;
    expect(w.pushService.messages.filter((m) => m.subscriptionId === subscription)).toHaveLength(0);
    // The owner, with the new password: the push arrives (red-team: refused as over the limit).
    const owner = await w.startSignIn({ username: u.username, password: newPassword });
    const wait = await sendPush(owner.browser, owner.next.body);
    expect(wait.url).toMatch(/\/wait$/);
    await w.pushService.waitForMessage(subscription);
    const refused = await w.t.idp.db.query<{ detail: Record<string, unknown> }>("SELECT detail FROM audit_events WHERE type = 'push.refused' AND account_id = $1", [u.accountId]);
    expect(refused).toEqual([]);
  }, 60_000);

  it('pushes that rang the phone keep counting after an end that left the password as it was', async () => {
    const u = await user('bomb');
    const subscription = u.phone.subscription!.id;
    const rang = () => w.pushService.messages.filter((m) => m.subscriptionId === subscription).length;
    for (let i = 0; i < 5; i += 1) { // PUSH_LIMIT's default: the bomber's whole allowance
      const s = await w.startSignIn({ username: u.username });
      await sendPush(s.browser, s.next.body);
    }
    await waitUntil(async () => rang() === 5, 5000, 'five pushes');
    await w.t.idp.endAccountSessions(u.accountId); // an admin's `user sign-out` after the user's report
    // Red-team: the end forgave them, and the same password sent five more at once.
    const s = await w.startSignIn({ username: u.username });
    const page = await sendPush(s.browser, s.next.body);
    expect(page.res.status).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 300));
    expect(rang()).toBe(5);
    const refused = await w.t.idp.db.query<{ detail: Record<string, unknown> }>("SELECT detail FROM audit_events WHERE type = 'push.refused' AND account_id = $1", [u.accountId]);
    expect(refused.map((r) => r.detail.reason)).toEqual(['limit']);
  }, 60_000);

  it('the new password posted on the same sign-in page after the end starts afresh: not ended as begun before it', async () => {
    const u = await user('repost');
    const login = new FormBrowser(w.t.url);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const page0 = await login.go(oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).href);
    const uid = /\/interaction\/([^/?]+)/.exec(page0.url)![1]!;
    const choice = await login.submit(page0.body, /\/login$/, { username: u.username, password: PushWorld.password });
    await sendPush(login, choice.body);
    const firstPushAt = Date.now();
    const subscription = u.phone.subscription!.id;
    await w.pushService.waitForMessage(subscription);
    const newPassword = 'a brand new password 93';
    await w.t.idp.accounts.setPasswordHash(u.accountId, await hashPassword(newPassword));
    expect((await w.t.idp.endAccountSessions(u.accountId)).pushes).toBe(1);
    // The same login page's form, posted again with the new password (the tab kept it open).
    const after = await login.submit(page0.body, /\/login$/, { username: u.username, password: newPassword });
    expect(after.body).not.toMatch(/after this one began/);
    // A push for the new attempt reaches the phone and, approved, finishes the sign-in.
    const before = w.pushService.messages.filter((m) => m.subscriptionId === subscription).length;
    // "Send again" keeps its spacing from the sign-in's last push (PUSH_RESEND_MIN_INTERVAL_MS).
    await new Promise((r) => setTimeout(r, Math.max(0, firstPushAt + PUSH_RESEND_MIN_INTERVAL_MS + 200 - Date.now())));
    const page = after.url.endsWith('/wait') ? await login.submit(after.body, /\/push$/, {}) : await sendPush(login, after.body);
    expect(page.url).toMatch(/\/wait$/);
    await waitUntil(async () => w.pushService.messages.filter((m) => m.subscriptionId === subscription).length > before, 5000, 'a new push');
    const ch = await newestChallenge(u.phone.phone);
    await new Promise((r) => setTimeout(r, 1000)); // a TOTP step the phone has not answered with yet
    expect((await u.phone.phone.respond(ch.id, 'approve', { number: matchNumberOf(page.body) ?? undefined })).status).toBe(200);
    const done = await login.go((await pushStatus(login, uid)).next!);
    expect((await w.tokens(done.url, verifier, state)).claims()?.amr).toContain('mfa');
  }, 60_000);

  it('a push made in the end\'s instant (missed by the withdrawal) is refused when answered, and withdrawn then', async () => {
    const u = await user('instant');
    const gateway = await authenticate(w, { username: u.username, password: PushWorld.password, mode: 'poll' });
    const ch = await newestChallenge(u.phone.phone);
    // The mark alone, as when the end read the pending list just before this push was stored.
    await w.t.idp.db.query('UPDATE accounts SET sessions_ended_at = now() WHERE id = $1', [u.accountId]);
    const answer = await u.phone.phone.respond(ch.id, 'approve', typeof gateway.body.match_number === 'number' ? { number: gateway.body.match_number } : {});
    expect(answer.status).toBe(410);
    expect(await u.phone.phone.pending()).toEqual([]);
    expect((await call(w, 'GET', `/api/agent/transactions/${String(gateway.body.transaction_id)}`)).status).toBe(403);
  });

  it('`user sign-out` from the admin CLI (another process) withdraws them too', async () => {
    const u = await user('cli');
    const first = await radiusStart(u.username);
    await newestChallenge(u.phone.phone);
    const out = await runAdminCli(['user', 'sign-out', u.username], {
      env: { DATABASE_URL: w.t.settings.databaseUrl!, REDIS_URL: w.t.settings.redisUrl!, REDIS_PREFIX: redisPrefix, DATA_DIR: w.t.settings.dataDir, ISSUER: w.t.url },
    });
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain('withdrew 1 push request(s) still pending');
    expect(await u.phone.phone.pending()).toEqual([]);
    expect(code(await radiusEnter(u.username, first))).toBe('reject');
  }, 30_000);
});
