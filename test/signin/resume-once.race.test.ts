import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { testRp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * The resume URL of a finished sign-in loaded several times at once by its browser (a double click,
 * F5 as the redirect lands; red-team, pages round): each load ran oidc-provider's resume and made its
 * own session, grant and code, and the extra refresh tokens outlived the user's sign-out. Now every
 * load gets the one answer (src/oidc/resume-once.ts), and another browser none.
 */
let w: PushWorld;
let n = 0;
beforeAll(async () => {
  w = await PushWorld.start({ clients: [testRp({ login: { consent: 'implicit' } })] });
}, 120_000);
afterAll(() => w?.close());

const PASSWORD = 'resume once password 1';
async function finishedSignIn(verifier: string, extra = '') {
  const username = `resume${++n}-${Date.now()}`;
  const account = await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PASSWORD) });
  const b = new FormBrowser(w.t.url);
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const login = await b.go(`/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_CALLBACK)}&code_challenge=${challenge}&code_challenge_method=S256&state=st${extra}`);
  const uid = /\/interaction\/([^/?]+)/.exec(login.url)![1]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
  const posted = await b.request(`/interaction/${uid}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, username, password: PASSWORD }).toString() });
  return { b, resume: new URL(posted.headers.get('location')!, w.t.url), accountId: account.id };
}

describe('a finished sign-in\'s resume loaded at once', () => {
  it.each([2, 30])('%i loads at once from the browser: one code and one session, the same answer to each; the sign-out ends it all', async (count) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const { b, resume } = await finishedSignIn(verifier);
    const cookie = b.cookieHeader();
    const all = await Promise.all(Array.from({ length: count }, () => fetch(resume, { redirect: 'manual', headers: { cookie, accept: 'text/html' } })));
    expect(all.map((r) => r.status)).toEqual(all.map(() => 303));
    const codes = new Set(all.map((r) => new URL(r.headers.get('location')!).searchParams.get('code')));
    expect([...codes].every((c) => typeof c === 'string' && c.length > 10)).toBe(true);
    expect(codes.size).toBe(1);
    const sessions = new Set(all.flatMap((r) => r.headers.getSetCookie()).filter((c) => /^_session=/.test(c)).map((c) => c.split(';')[0]));
    expect(sessions.size).toBe(1);
    // The one code gives tokens once; the user's sign-out in this browser ends its refresh token.
    const tokens = await oidc.authorizationCodeGrant(w.rp, new URL(all[0]!.headers.get('location')!), { pkceCodeVerifier: verifier, expectedState: 'st' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const jar = new Map(cookie.split('; ').map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)] as const));
    for (const c of all[0]!.headers.getSetCookie()) {
      const [pair] = c.split(';');
      jar.set(pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1));
    }
    const signedIn = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const end = await fetch(`${w.t.url}/session/end?client_id=test-rp`, { headers: { cookie: signedIn, accept: 'text/html' } });
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await end.text())![1]!;
    const confirmed = await fetch(`${w.t.url}/session/end/confirm`, { method: 'POST', redirect: 'manual', headers: { cookie: signedIn, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf, logout: 'yes' }).toString() });
    expect(confirmed.status).toBeLessThan(400);
    await expect(oidc.refreshTokenGrant(w.rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('response_mode=form_post (Entra\'s): every copy is the same page, whose auto-submit its CSP lets run (red-team review: copies lacked the script\'s hash)', async () => {
    const { b, resume } = await finishedSignIn(oidc.randomPKCECodeVerifier(), '&response_mode=form_post');
    const cookie = b.cookieHeader();
    const all = await Promise.all([0, 1, 2].map(() => fetch(resume, { redirect: 'manual', headers: { cookie, accept: 'text/html' } })));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200]);
    const bodies = await Promise.all(all.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toMatch(/name="code" value="[^"]+"/);
    const policies = all.map((r) => r.headers.get('content-security-policy') ?? '');
    expect(new Set(policies).size).toBe(1);
    expect(policies[0]).toMatch(/'sha256-[^']+'/);
  });

  // Red-team (audit replay): a reload a second after `user sign-out` got the ended sign-in's code and session cookie again.
  it('a reload after the account\'s sessions were ended is not given the ended sign-in\'s code or session', async () => {
    const { b, resume, accountId } = await finishedSignIn(oidc.randomPKCECodeVerifier());
    const cookie = b.cookieHeader();
    const first = await fetch(resume, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
    const code = new URL(first.headers.get('location')!).searchParams.get('code');
    expect(code).toEqual(expect.any(String));
    // Within the 15 s a reload is given the same answer...
    const again = await fetch(resume, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
    expect(new URL(again.headers.get('location')!).searchParams.get('code')).toBe(code);
    // ...but not once the account's sessions have ended (as `user sign-out` ends them).
    await w.t.idp.endAccountSessions(accountId);
    await new Promise((r) => setTimeout(r, 50));
    const after = await fetch(resume, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
    expect(after.headers.get('location') ?? '').not.toContain(code!);
    const session = (r: Response) => r.headers.getSetCookie().find((c) => /^_session=[^;]/.test(c))?.split(';')[0];
    expect(session(first)).toEqual(expect.any(String));
    expect(session(after)).not.toBe(session(first));
    expect(after.status).toBeLessThan(500);
  });

  it('a load from another browser at the same moment gets no code, and the browser\'s own load still does', async () => {
    const { b, resume } = await finishedSignIn(oidc.randomPKCECodeVerifier());
    const stranger = `${b.cookieHeader().split('; ').filter((c) => !c.startsWith('browser=')).join('; ')}; browser=${'A'.repeat(43)}`;
    const [own, other] = await Promise.all([
      fetch(resume, { redirect: 'manual', headers: { cookie: b.cookieHeader(), accept: 'text/html' } }),
      fetch(resume, { redirect: 'manual', headers: { cookie: stranger, accept: 'text/html' } }),
    ]);
    expect(own.headers.get('location')).toMatch(/[?&]code=/);
    expect(other.headers.get('location') ?? '').not.toMatch(/[?&]code=/);
  });
});
