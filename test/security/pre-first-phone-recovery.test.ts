import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { FormBrowser } from '../support/web-browser.js';
import { newUser, PASSWORD, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Red-team (self-service): with the password alone, before the owner's first phone, an attacker
 * took /account's enrollment code and its recovery codes, planted a phone of his own and left it
 * pending, then signed in with a recovery code (an MFA session: `pwd otp mfa`), revoked his phone,
 * and with a second code made a fresh MFA session. The owner's first enrollment discarded those
 * codes but ended sessions only if it revoked a pending phone, so that session lived on beside the
 * owner's phone (tokens with `mfa` by SSO, /account, a second phone of his). And the revoked,
 * never-confirmed phone sent the owner, who never had one, to "use a recovery code" for ten minutes.
 * Now a recovery code is taken only once a device of the account was confirmed by its phone, and an
 * account "had an authenticator" only if its phone confirmed one. A password-only /account cookie
 * from before the first phone kept reading the owner's newest device at /account/enroll/status; it
 * now sees only phones its own codes enrolled.
 */
let w: SessionWorld;
beforeAll(async () => { w = await startSessionWorld(); });
afterAll(() => w.close());

const codeOf = (html: string) => /id="enroll-code">([^<]+)</.exec(html)?.[1] ?? null;
const recoveryOf = (html: string) => [...html.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((m) => m[1]!);
const unusedCodes = async (accountId: string) =>
  Number((await w.t.idp.db.query<{ n: string }>('SELECT count(*)::text AS n FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL', [accountId]))[0]!.n);

/** The attacker: /account with the password alone, an enrollment code and its ten recovery codes, a pending phone of his own. */
async function plant(username: string) {
  const a = new FormBrowser(w.t.url);
  const page = await a.submit((await a.go('/account')).body, /\/login$/, { username, password: PASSWORD });
  expect(page.url).toBe(`${w.t.url}/account`);
  const offer = await a.submit(page.body, '/account/enroll', {});
  const recovery = recoveryOf(offer.body);
  expect(recovery).toHaveLength(10);
  const planted = await SimulatedAuthenticator.enroll(w.t.url, codeOf(offer.body)!, { push: null, name: 'Attacker phone' });
  return { a, recovery, planted };
}

describe('recovery codes before the first confirmed phone', () => {
  it('beside a planted pending phone, a recovery code from /account makes no session: refused, and not used up', async () => {
    const username = `pfr-a-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await newUser(w, username);
    const { a, recovery } = await plant(username);
    const reauth = await a.go('/account/login?reauth=1');
    const second = await a.submit(reauth.body, /\/login$/, { username, password: PASSWORD });
    expect(second.url).toMatch(/\/second-factor$/); // the pending phone counts for the push
    const recPage = await a.go(second.url.replace(/second-factor$/, 'recovery'));
    for (const code of recovery.slice(0, 3)) {
      const tried = await a.submit(recPage.body, /\/recovery$/, { code });
      expect(tried.url).not.toBe(`${w.t.url}/account`);
    }
    expect(await unusedCodes(accountId)).toBe(10);
    const rows = await w.t.idp.db.query('SELECT 1 FROM audit_events WHERE account_id = $1 AND type = $2', [accountId, 'recovery_code.used']);
    expect(rows).toHaveLength(0);
  }, 60_000);

  it('an account whose only phone was revoked before its phone confirmed it is not sent to recovery: it never had an authenticator', async () => {
    const username = `pfr-b-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await newUser(w, username);
    const { planted } = await plant(username);
    await w.t.idp.deviceService.revokeDevice(accountId, planted.deviceId, 'admin-cli');
    expect((await w.t.idp.devices.get(planted.deviceId))?.status).toBe('revoked');
    const o = new FormBrowser(w.t.url);
    const page = await o.submit((await o.go('/account')).body, /\/login$/, { username, password: PASSWORD });
    expect(page.url).toBe(`${w.t.url}/account`); // the first-phone page, as for an account that never had one
  }, 60_000);

  it('once the owner\'s phone is confirmed and then lost, a recovery code of its batch signs in', async () => {
    const username = `pfr-c-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await newUser(w, username);
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin-cli');
    const owner = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Owner phone' });
    expect((await owner.request('GET', '/api/device/challenges')).status).toBe(200); // confirmed
    await w.t.idp.deviceService.revokeDevice(accountId, owner.deviceId, 'admin-cli'); // lost
    const o = new FormBrowser(w.t.url);
    const next = await o.submit((await o.go('/account')).body, /\/login$/, { username, password: PASSWORD });
    expect(next.url).toMatch(/\/recovery$/);
    const inside = await o.submit(next.body, /\/recovery$/, { code: offer.recoveryCodes![0]! });
    expect(inside.url).toBe(`${w.t.url}/account`);
    expect(await unusedCodes(accountId)).toBe(9);
  }, 60_000);
});

describe('/account/enroll/status for a password-only session', () => {
  it('a cookie from before the owner\'s first phone does not see the owner\'s device', async () => {
    const username = `pfr-d-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await newUser(w, username);
    const a = new FormBrowser(w.t.url);
    const page = await a.submit((await a.go('/account')).body, /\/login$/, { username, password: PASSWORD });
    expect(page.url).toBe(`${w.t.url}/account`);
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin-cli');
    const owner = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Owner iPhone 15 (work)' });
    expect((await owner.request('GET', '/api/device/challenges')).status).toBe(200);
    const res = await a.request('/account/enroll/status?after=', { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ state: 'waiting' });
  }, 60_000);

  it('the owner\'s own first-phone page still sees the phone its code enrolled, pending then active', async () => {
    const username = `pfr-e-${Math.random().toString(36).slice(2, 8)}`;
    await newUser(w, username);
    const o = new FormBrowser(w.t.url);
    const page = await o.submit((await o.go('/account')).body, /\/login$/, { username, password: PASSWORD });
    const offer = await o.submit(page.body, '/account/enroll', {});
    const phone = await SimulatedAuthenticator.enroll(w.t.url, codeOf(offer.body)!, { push: null, name: 'My phone' });
    const status = async () => (await o.request('/account/enroll/status?after=', { headers: { accept: 'application/json' } })).json();
    expect(await status()).toEqual({ state: 'pending', name: 'My phone' });
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
    expect(await status()).toEqual({ state: 'active', name: 'My phone' });
  }, 60_000);
});
