import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { movableClock } from '../signin/helpers.js';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, isLoginPage, newUser, PASSWORD, signIn, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Audit item 2 (lifetimes): a session that never ends is a stolen cookie that never stops working.
 * NIST SP 800-63B 7.2 at AAL2: an absolute limit (SESSION_MAX_AGE, 12 h) and an idle one
 * (SESSION_IDLE_TIMEOUT, 30 min), for the IdP's SSO session and for /account's own.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MIN = 60_000;

describe('the SSO session ends after SESSION_IDLE_TIMEOUT without use', () => {
  // oidc-provider keeps time itself (real seconds): a 3-second idle limit, in real time.
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld({ env: { SESSION_IDLE_TIMEOUT: '3' } }); });
  afterAll(() => w.close());

  it('slides with each use, and asks for a sign-in once idle too long', async () => {
    await newUser(w, 'idler');
    const browser = new FormBrowser(w.t.url);
    await signIn(w.open, browser, 'idler');
    await sleep(1500);
    expect(atCallback((await authorize(w.open, browser)).page.url)).toBe(true);
    await sleep(2000); // 3.5 s since the sign-in, 2 s since the last use
    expect(atCallback((await authorize(w.open, browser)).page.url)).toBe(true);
    await sleep(3600);
    expect(isLoginPage((await authorize(w.open, browser)).page)).toBe(true);
  });
});

describe('the SSO session ends SESSION_MAX_AGE after its sign-in, however active', () => {
  const clock = movableClock();
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld({ idp: { now: clock.now } }); });
  afterAll(() => w.close());

  it('signs in by SSO at 11 h 59 min, and asks for a sign-in at 12 h', async () => {
    await newUser(w, 'worker');
    const browser = new FormBrowser(w.t.url);
    const first = (await signIn(w.open, browser, 'worker')).claims()!;
    clock.advance(12 * 60 * MIN - 90_000);
    const sso = await authorize(w.open, browser);
    expect(atCallback(sso.page.url)).toBe(true);
    expect((await sso.tokens()).claims()!.auth_time).toBe(first.auth_time);
    clock.advance(90_000);
    expect(isLoginPage((await authorize(w.open, browser)).page)).toBe(true);
    const silent = await authorize(w.open, browser, { prompt: 'none' });
    expect(new URL(silent.page.url).searchParams.get('error')).toBe('login_required');
  });
});

describe("/account's session: idle and absolute limits", () => {
  const clock = movableClock();
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld({ idp: { now: clock.now } }); });
  afterAll(() => w.close());

  const signInToAccount = async (username: string) => {
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const page = await browser.submit(login.body, /\/login$/, { username, password: PASSWORD });
    expect(page.url).toBe(`${w.t.url}/account`);
    return browser;
  };
  /** The page itself, without following a redirect to a new sign-in (which SSO may answer). */
  const open = async (browser: FormBrowser) => {
    const res = await browser.request('/account');
    return res.status === 200 ? 'open' : res.headers.get('location');
  };

  it('each use slides the idle limit; 30 min without one ends it', async () => {
    await newUser(w, 'reader');
    const browser = await signInToAccount('reader');
    for (let i = 0; i < 3; i++) {
      clock.advance(29 * MIN);
      expect(await open(browser)).toBe('open');
    }
    clock.advance(30 * MIN);
    expect(await open(browser)).toBe('/account/login');
  });

  it('ends 12 h after the sign-in, however active', async () => {
    await newUser(w, 'keeper');
    const browser = await signInToAccount('keeper');
    for (let elapsed = 0; elapsed + 29 * MIN < 12 * 60 * MIN; elapsed += 29 * MIN) {
      clock.advance(29 * MIN);
      expect(await open(browser)).toBe('open');
    }
    clock.advance(29 * MIN);
    expect(await open(browser)).toBe('/account/login');
  });
});
