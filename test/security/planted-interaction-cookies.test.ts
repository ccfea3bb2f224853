import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, type TestIdp } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';
import { cookieFromHeader, keyHash, startedBy } from '../../src/interaction/browser-binding.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { enroll, sendPush, startWorld, waitUntil } from '../signin/helpers.js';

/*
 * Red-team finding (fixed, src/interaction/browser-binding.ts): the SSO cookie is __Host-session, so a
 * sibling host (wiki.corp.example) cannot plant a session with Domain=corp.example; oidc-provider's
 * interaction cookies are bound to their paths and cannot be __Host-: a sibling https host could
 * plant them, and take over the user's sign-in or sign the user in as the planter. A sign-in now goes
 * on (its pages, its long-poll, its resume) only in the browser holding the random key (a __Host-browser
 * cookie) whose hash the interaction keeps. The server sees name=value only, so a
 * cookie copied from another browser stands for a planted one.
 */
const CB = 'http://127.0.0.1:1/cb';
const AUTH = `/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(CB)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;

function browser(t: TestIdp) {
  const base = `http://127.0.0.1:${t.settings.port}`;
  const jar = new Map<string, string>();
  const go = async (url: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    headers.set('accept', 'text/html');
    const res = await fetch(new URL(url.replace(t.url, base), base), { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const name = pair!.slice(0, pair!.indexOf('='));
      const value = pair!.slice(pair!.indexOf('=') + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name); else jar.set(name, value);
    }
    return { res, body: await res.text() };
  };
  return { jar, go };
}

async function postLogin(b: ReturnType<typeof browser>, interaction: string, username: string, password: string) {
  const page = await b.go(interaction);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  return b.go(`${interaction}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, username, password }).toString() });
}

/** Follows redirects inside the IdP until the resume URL (/auth/<uid>) is next; returns it without following. */
async function untilResume(b: ReturnType<typeof browser>, r: { res: Response }) {
  for (let i = 0; i < 6; i++) {
    const loc = r.res.headers.get('location');
    if (!loc) return null;
    if (/\/auth\/[A-Za-z0-9_-]+$/.test(new URL(loc, 'http://x').pathname)) return loc;
    r = await b.go(loc);
  }
  return null;
}

describe('behind https: interaction cookies planted by a sibling host (Domain=corp.example)', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({ redis: 'real', redisPrefix: uniquePrefix('rtplant'), clients: [testRp({ login: { consent: 'implicit' } })], env: { ISSUER: 'https://idp.example.test', TRUST_PROXY: '1' } });
    await t.idp.accounts.create({ username: 'mallory', passwordHash: await hashPassword('mallory password 1') });
    await t.idp.accounts.create({ username: 'victim', passwordHash: await hashPassword('victim password 1') });
  });
  afterAll(() => t.close());

  it('a planted __Secure-interaction_resume does not sign the victim\'s browser in as the planter', async () => {
    const mallory = browser(t);
    const first = await mallory.go(AUTH);
    const interaction = first.res.headers.get('location')!;
    const resume = await untilResume(mallory, await postLogin(mallory, interaction, 'mallory', 'mallory password 1'));
    expect(resume).toMatch(/\/auth\/[A-Za-z0-9_-]+$/);
    // Mallory does not resume; her sibling host plants the resume cookie pair in the victim's browser.
    const victim = browser(t);
    for (const name of ['__Secure-interaction_resume', '__Secure-interaction_resume.sig']) victim.jar.set(name, mallory.jar.get(name)!);
    await victim.go(resume!);
    // The victim's browser must not now hold an SSO session of mallory's.
    const sso = await victim.go(`${AUTH}&prompt=none`);
    expect(sso.res.headers.get('location')).not.toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect(victim.jar.has('__Host-session')).toBe(false);
  });

  it('a planted __Secure-interaction does not hand the victim\'s sign-in to the planter', async () => {
    const mallory = browser(t);
    const first = await mallory.go(AUTH);
    const interaction = first.res.headers.get('location')!;
    // The sibling host plants mallory's interaction cookie pair; the victim is sent to the interaction page and signs in.
    const victim = browser(t);
    for (const name of ['__Secure-interaction', '__Secure-interaction.sig']) victim.jar.set(name, mallory.jar.get(name)!);
    // The victim is shown no sign-in form on it.
    const page = await victim.go(interaction);
    expect(page.res.status).toBe(400);
    expect(page.body).not.toContain('name="password"');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? 'none';
    const posted = await victim.go(`${interaction}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, username: 'victim', password: 'victim password 1' }).toString() });
    expect(posted.res.status).toBe(400);
    const resume = interaction.replace('/interaction/', '/auth/');
    // Mallory resumes in her own browser: she must not get a code (nor an SSO session) for the victim.
    const r = await mallory.go(resume!);
    const loc = r.res.headers.get('location') ?? '';
    if (/\/cb\?code=/.test(loc)) {
      const code = new URL(loc).searchParams.get('code')!;
      const found = await t.idp.provider.AuthorizationCode.find(code);
      expect(found?.accountId).not.toBe((await t.idp.accounts.findByUsername('victim'))!.id);
    }
    expect(loc).not.toMatch(/\/cb\?code=/);
  });
});

describe('the browser key', () => {
  it('matches the interaction only with the key whose hash it keeps', () => {
    const key = 'k'.repeat(43);
    const params = { __browser: keyHash(key) };
    expect(startedBy(key, params)).toBe(true);
    expect(startedBy('j'.repeat(43), params)).toBe(false);
    expect(startedBy(undefined, params)).toBe(false);
    expect(startedBy(key, {})).toBe(false);
    expect(startedBy(key, undefined)).toBe(false);
    expect(startedBy(`${key}x`, { __browser: keyHash(`${key}x`) })).toBe(false); // not a key's shape
    expect(startedBy(params.__browser, { __browser: keyHash(params.__browser) })).toBe(true); // a hash is no key of another
  });

  it('reads a cookie from a raw header as Koa does (the first of its name)', () => {
    expect(cookieFromHeader('a=1; browser=x; browser=y', 'browser')).toBe('x');
    expect(cookieFromHeader('xbrowser=1; browser =z', 'browser')).toBe('z');
    expect(cookieFromHeader(undefined, 'browser')).toBeUndefined();
    expect(cookieFromHeader('=; ;browser', 'browser')).toBeUndefined();
  });
});

describe('sign-ins in one browser, and the long-poll', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('many sign-ins started in one browser leave the first one going on (red-team: only the last 8 did)', async () => {
    await enroll(w, { name: 'first phone', push: false });
    const b = new FormBrowser(w.t.url);
    const s = await w.startSignIn({}, b);
    // A real browser keeps each interaction's cookie under its own path; this jar keeps one per name.
    const kept = new FormBrowser(w.t.url);
    kept.adoptCookies(b, '_interaction');
    for (let i = 0; i < 12; i++) expect((await w.startSignIn({}, b)).next.url).toMatch(/\/second-factor$/);
    b.adoptCookies(kept, '_interaction');
    const page = await b.go(`/interaction/${s.uid}/second-factor`);
    expect(page.res.status).toBe(200);
    expect(page.body).toContain(`/interaction/${s.uid}/push`);
  });

  it('a browser holding only the interaction cookie is not told how the push was answered', async () => {
    const alice = await enroll(w, { name: 'alice phone' });
    const b = new FormBrowser(w.t.url);
    const s = await w.startSignIn({}, b);
    await sendPush(b, s.next.body);
    const ch = await waitUntil(async () => (await alice.phone.pending())[0], 5000, 'push');
    const other = new FormBrowser(w.t.url);
    other.adoptCookies(b, '_interaction'); // the planted, path-bound interaction cookie pair
    const koa = await other.request(`/interaction/${s.uid}/push/status?wait=0`, { headers: { accept: 'application/json' } });
    expect(koa.status).toBe(400);
    const held = other.request(`/interaction/${s.uid}/push/status`, { headers: { accept: 'application/json' } });
    await new Promise((r) => setTimeout(r, 300));
    await alice.phone.respond(ch.id, 'deny', {});
    const res = await held;
    const body = await res.text();
    expect({ status: res.status, told: /denied|approved/.test(body) }).toEqual({ status: 400, told: false });
  });
});
