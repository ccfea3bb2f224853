import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runAdminCli } from '../support/admin-cli.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { FormBrowser } from '../support/web-browser.js';
import { newUser, PASSWORD, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Red-team: enrollment codes that /account issued to a password-only session (someone with a
 * stolen password, before the owner's first phone) outlived what should end them.
 * - Requests kept in flight while the owner enrolled got codes (and recovery codes) just after the
 *   owner's first phone voided the others: with them the password alone enrolled phones beside the
 *   owner's, or, the owner's phone not yet confirmed, revoked it as the "first" enrollment.
 * - A code, or a phone it enrolled and left unconfirmed, outlived `user set-password` and
 *   `user sign-out`: the attacker's phone became the account's second factor afterwards.
 */
describe('enrollment codes and the sessions that asked for them', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  const codeOf = (html: string) => /id="enroll-code">([^<]+)</.exec(html)?.[1] ?? null;
  const uniqueName = (what: string) => `enr-${what}-${Math.random().toString(36).slice(2, 8)}`;

  /** With the password alone, /account while the account has no device. */
  async function accountPage(username: string) {
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const page = await browser.submit(login.body, /\/login$/, { username, password: PASSWORD });
    expect(page.url).toBe(`${w.t.url}/account`);
    return { browser, page };
  }

  const cli = async (...args: string[]) => {
    const r = await runAdminCli(args, {
      env: { DATABASE_URL: w.t.settings.databaseUrl!, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: w.t.idp.redis.options.keyPrefix!, DATA_DIR: w.t.settings.dataDir, ISSUER: w.t.url },
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    return r.stdout;
  };

  const enrollAndConfirm = (code: string, name: string) => SimulatedAuthenticator.enroll(w.t.url, code, { push: null, name })
    .then(async (phone) => ((await phone.request('GET', '/api/device/challenges')).status === 200 ? phone : null))
    .catch(() => null);

  it.each([
    ['the owner\'s phone confirmed at once', true],
    ['the owner\'s phone not yet confirmed', false],
  ])('a password-only request that passed its check before the owner\'s first enrollment gets no code after it (%s)', async (_what, ownerConfirms) => {
    const username = uniqueName('race');
    const accountId = await newUser(w, username);
    const attacker = await accountPage(username);
    // The interleaving, forced: the attacker's request has passed the page's session check (no
    // device yet) when the owner's own first enrollment commits; then its code is issued.
    const service = w.t.idp.deviceService;
    const original = service.issueEnrollment.bind(service);
    let owner: SimulatedAuthenticator | null = null;
    service.issueEnrollment = async (...args) => {
      service.issueEnrollment = original;
      const offer = await original(accountId, `self:${accountId}`, { passwordOnly: true, startedAt: Date.now() });
      owner = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Owner phone' });
      if (ownerConfirms) expect((await owner.request('GET', '/api/device/challenges')).status).toBe(200);
      return original(...args);
    };
    const answer = await attacker.browser.submit(attacker.page.body, '/account/enroll', {});
    service.issueEnrollment = original;
    expect(owner).not.toBeNull();
    expect(answer.res.status).toBe(409);
    expect(codeOf(answer.body)).toBeNull();
    expect(answer.body).toContain('Your account has an authenticator now');
    if (!ownerConfirms) expect((await owner!.request('GET', '/api/device/challenges')).status).toBe(200);
    const devices = await w.t.idp.devices.listByAccount(accountId);
    expect(devices.filter((d) => d.status === 'active').map((d) => d.name)).toEqual(['Owner phone']);
    // Nor recovery codes: the owner's batch is the account's only one.
    const [{ n }] = await w.t.idp.db.query<{ n: number | string }>('SELECT count(DISTINCT batch) AS n FROM recovery_codes WHERE account_id = $1', [accountId]);
    expect(Number(n)).toBe(1);
  });

  it('over HTTP: codes sprayed from a password session while the owner enrolls leave none that enrolls', async () => {
    const username = uniqueName('spray');
    const accountId = await newUser(w, username);
    const one = await accountPage(username);
    const csrf = /name="csrf" value="([^"]+)"/.exec(one.page.body)![1]!;
    const codes: string[] = [];
    let stop = false;
    const spray = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const res = await one.browser.go('/account/enroll', {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}`,
        }).catch(() => null);
        const code = res ? codeOf(res.body) : null;
        if (code) codes.push(code);
        else if (res) break; // the page no longer opens with the password alone: the owner's phone is in
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    const owner = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Owner phone' });
    expect((await owner.request('GET', '/api/device/challenges')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(spray);
    expect(codes.length).toBeGreaterThan(0);
    const usable: string[] = [];
    for (const code of codes) if (await enrollAndConfirm(code, 'Attacker phone')) usable.push(code);
    expect(usable).toEqual([]);
    expect((await w.t.idp.devices.listByAccount(accountId)).filter((d) => d.status === 'active').map((d) => d.name)).toEqual(['Owner phone']);
  });

  it.each([
    ['user set-password', (u: string) => ['user', 'set-password', u, '--password', 'a brand new password 42']],
    ['user sign-out', (u: string) => ['user', 'sign-out', u]],
  ])('a code, or a phone left unconfirmed, that a password session took before `%s` is void after it', async (_name, args) => {
    // A code kept unused.
    const withCode = uniqueName('code');
    const codeAccount = await newUser(w, withCode);
    const a = await accountPage(withCode);
    const code = codeOf((await a.browser.submit(a.page.body, '/account/enroll', {})).body)!;
    expect(await cli(...args(withCode))).toContain('voided 1 self-service enrollment code(s)');
    expect(await enrollAndConfirm(code, 'Attacker phone')).toBeNull();
    expect((await w.t.idp.devices.listByAccount(codeAccount)).filter((d) => d.status === 'active')).toEqual([]);

    // A phone enrolled with one and left unconfirmed (it would confirm with its first signed call).
    const withPhone = uniqueName('phone');
    const phoneAccount = await newUser(w, withPhone);
    const b = await accountPage(withPhone);
    const planted = await SimulatedAuthenticator.enroll(w.t.url, codeOf((await b.browser.submit(b.page.body, '/account/enroll', {})).body)!, { push: null, name: 'Planted phone' });
    expect(await cli(...args(withPhone))).toContain('revoked 1 unconfirmed device(s)');
    expect((await planted.request('GET', '/api/device/challenges')).status).toBe(401);
    expect((await w.t.idp.devices.listByAccount(phoneAccount)).filter((d) => d.status === 'active')).toEqual([]);
    // An administrator's code issued afterwards enrolls the owner's phone.
    const offer = await w.t.idp.deviceService.issueEnrollment(phoneAccount, 'admin');
    expect(await enrollAndConfirm(offer.code, 'Owner phone')).not.toBeNull();
  });

  it('a code an administrator issued survives a sign-out everywhere', async () => {
    const accountId = await newUser(w, uniqueName('admin'));
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    await w.t.idp.endAccountSessions(accountId);
    expect(await enrollAndConfirm(offer.code, 'Owner phone')).not.toBeNull();
  });
});
