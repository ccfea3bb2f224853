import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { testRp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * One finished sign-in, one code (src/oidc/resume-once.ts), against what a red-team round of
 * 2026-12-07 found went round the resume's claim: the URL spelt otherwise than the browser was sent
 * to (each spelling its own claim, oidc-provider resuming the interaction its cookie names), the
 * loads after an account switch's sign-out form (a kept answer that was not the resume's last), and
 * a load waiting on a resume slower than its wait (it went on to resume beside it).
 */
describe('the resume is claimed once, however it is loaded', () => {
  let w: PushWorld;
  let n = 0;
  const PASSWORD = 'resume claim password 1';
  beforeAll(async () => {
    w = await PushWorld.start({ clients: [testRp({ login: { consent: 'implicit' } })] });
  }, 120_000);
  afterAll(() => w?.close());

  const codeOf = (r: Response) => {
    const l = r.headers.get('location');
    return l?.startsWith(`${RP_CALLBACK}?`) ? new URL(l).searchParams.get('code') : null;
  };
  const load = (url: string, cookie: string) => fetch(url, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** A password-only sign-in (no phone on the account: the app lets it in), up to its resume URL. */
  async function signIn(b: FormBrowser, username: string, verifier: string, extra = '') {
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    const login = await b.go(`/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_CALLBACK)}&code_challenge=${challenge}&code_challenge_method=S256&state=st${extra}`);
    const uid = /\/interaction\/([^/?]+)/.exec(login.url)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const posted = await b.request(`/interaction/${uid}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, username, password: PASSWORD }).toString() });
    expect(posted.status).toBe(303);
    return { uid, resume: new URL(posted.headers.get('location')!, w.t.url).href };
  }
  async function newUser() {
    const username = `resumeclaim${++n}-${Date.now()}`;
    await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PASSWORD) });
    return username;
  }
  /** The codes among the answers, each redeemed once at the token endpoint: how many gave tokens. */
  async function redeemed(answers: Response[], verifier: string) {
    let tokens = 0;
    for (const code of new Set(answers.map(codeOf).filter(Boolean))) {
      try {
        await w.tokens(`${RP_CALLBACK}?code=${code}&state=st&iss=${encodeURIComponent(w.t.url)}`, verifier, 'st');
        tokens++;
      } catch { /* refused */ }
    }
    return tokens;
  }

  it.each([
    ['its first letter percent-encoded', (uid: string) => `/auth/%${uid.charCodeAt(0).toString(16).toUpperCase()}${uid.slice(1)}`],
    ['another uid (the resume cookie names the real one)', () => '/auth/someotheruid0123'],
    ['a query string', (uid: string) => `/auth/${uid}?x=1`],
  ])('a resume URL with %s, loaded beside the real one: one code in all', async (_label, spelt) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const b = new FormBrowser(w.t.url);
    const { uid, resume } = await signIn(b, await newUser(), verifier);
    const cookie = b.cookieHeader();
    const answers = await Promise.all([resume, ...Array.from({ length: 4 }, () => `${w.t.url}${spelt(uid)}`)].map((u) => load(u, cookie)));
    expect(new Set(answers.map(codeOf).filter(Boolean)).size).toBe(1);
    expect(await redeemed(answers, verifier)).toBe(1);
    // Another spelling of the uid is refused outright (the browser never loads one).
    if (!spelt(uid).includes('?')) expect(answers.slice(1).every((r) => r.status === 400)).toBe(true);
  });

  it('odd bytes in the resume URL beside the browser\'s resume cookie: 4xx, no code; the real URL then gives its one code', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const b = new FormBrowser(w.t.url);
    const { uid, resume } = await signIn(b, await newUser(), verifier);
    const cookie = b.cookieHeader();
    const odd = ['%00', `${uid}%00`, '%', `${uid}%`, '%E0%A4%A', '%ED%A0%80', '%C0%AF', '..', '%2E%2E', `${uid}%2F`, 'a'.repeat(5000), `${uid.slice(0, -1)}%${uid.charCodeAt(uid.length - 1).toString(16)}`];
    const answers = await Promise.all(odd.flatMap((o) => [load(`${w.t.url}/auth/${o}`, cookie), fetch(`${w.t.url}/auth/${o}`, { method: 'HEAD', redirect: 'manual', headers: { cookie } })]));
    expect(answers.map((r) => r.status).filter((st) => st < 400 || st >= 500)).toEqual([]);
    expect(answers.map(codeOf).filter(Boolean)).toEqual([]);
    const real = await Promise.all(Array.from({ length: 5 }, () => load(resume, cookie)));
    expect(new Set(real.map(codeOf).filter(Boolean)).size).toBe(1);
    expect(await redeemed(real, verifier)).toBe(1);
  });

  it('after an account switch\'s sign-out form, the loads that come back to the resume give one code', async () => {
    const b = new FormBrowser(w.t.url);
    const first = await signIn(b, await newUser(), oidc.randomPKCECodeVerifier());
    expect(codeOf(await b.request(first.resume))).not.toBeNull();
    // Another account on the same browser: oidc-provider's resume answers its sign-out form first.
    const verifier = oidc.randomPKCECodeVerifier();
    const second = await signIn(b, await newUser(), verifier, '&prompt=login');
    const form = await b.request(second.resume);
    expect(form.status).toBe(200);
    const body = await form.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(body)![1]!;
    const action = /action="([^"]+)"/.exec(body)![1]!.replace(/&amp;/g, '&');
    const confirmed = await b.request(new URL(action, w.t.url).href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf, logout: 'yes' }).toString() });
    const back = new URL(confirmed.headers.get('location')!, w.t.url).href;
    expect(back).toBe(second.resume);
    const cookie = b.cookieHeader();
    const answers = await Promise.all(Array.from({ length: 6 }, () => load(back, cookie)));
    expect(new Set(answers.map(codeOf).filter(Boolean)).size).toBe(1);
    expect(await redeemed(answers, verifier)).toBe(1);
  }, 30_000);

  it('a load that waits on a resume slower than its wait is answered 503, not resumed beside it; later, the kept answer', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const b = new FormBrowser(w.t.url);
    const { resume } = await signIn(b, await newUser(), verifier);
    const cookie = b.cookieHeader();
    // Writes to oidc_payloads stall (reads go on): a database under load holds the resume's saves.
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => { locked = r; });
    const lock = w.t.idp.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE oidc_payloads IN SHARE ROW EXCLUSIVE MODE');
      locked();
      await released;
    });
    await isLocked;
    const first = load(resume, cookie);
    await sleep(100);
    const second = await load(resume, cookie); // F5 while the first is held
    release();
    await lock;
    const answers = [await first, second];
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(codeOf(answers[0]!)).not.toBeNull();
    // Loaded again once the first is done: the same answer, the same code.
    const again = await load(resume, cookie);
    expect(codeOf(again)).toBe(codeOf(answers[0]!));
    expect(await redeemed([...answers, again], verifier)).toBe(1);
  }, 30_000);
});
