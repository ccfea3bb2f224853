import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, type TestIdp } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';
import { listsUid, withUid } from '../../src/interaction/browser-binding.js';

/*
 * Red-team finding (fixed, src/interaction/browser-binding.ts): the SSO cookie is __Host-session, so a
 * sibling host (wiki.corp.example) cannot plant a session with Domain=corp.example; oidc-provider's
 * interaction cookies are bound to their paths and cannot be __Host-: a sibling https host could
 * plant them, and take over the user's sign-in or sign the user in as the planter. A sign-in now goes
 * on only in a browser whose __Host-signins cookie lists it. The server sees name=value only, so a
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

describe('the list of sign-ins started in a browser', () => {
  it('adds a uid last, once, keeps the last eight and drops what is not a uid', () => {
    let list = withUid(undefined, 'a');
    for (const uid of ['b', 'c', 'a']) list = withUid(list, uid);
    expect(list).toBe('b.c.a');
    for (let i = 0; i < 10; i++) list = withUid(list, `u${i}`);
    expect(list.split('.')).toEqual(['u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9']);
    expect(withUid('x y.%00.ok', 'n')).toBe('ok.n');
    expect(listsUid('b.c.a', 'c')).toBe(true);
    expect(listsUid('b.c.a', 'd')).toBe(false);
    expect(listsUid(undefined, 'a')).toBe(false);
    expect(listsUid('', '')).toBe(false);
  });
});
