import { afterEach, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { ACCOUNT_POLICY, IP_POLICY } from '../../src/defences/throttle.js';
import { auditEvents } from '../signin/helpers.js';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * An attacker who sends many password guesses at once, hoping they are all checked before any is
 * counted (audit: 200 parallel wrong passwords for one username were 161 checks past a lockout of
 * 10). Every guess is reserved before the check, so parallel guesses are counted one after the
 * other: only the free failures are checked, the rest wait (429), per username and per IP.
 * The clock stands still, so the doubling delay cannot run out during the burst.
 */
const PARALLEL = 200;

async function openLogin(w: PushWorld): Promise<{ browser: FormBrowser; page: string }> {
  const browser = new FormBrowser(w.t.url);
  const url = oidc.buildAuthorizationUrl(w.rp, {
    redirect_uri: RP_CALLBACK, scope: 'openid', state: oidc.randomState(),
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  return { browser, page: (await browser.go(url.href)).body };
}

/** Sends all the guesses at once on one login page; answers the status codes by count. */
async function burst(w: PushWorld, guesses: { username: string; password: string }[]) {
  const { browser, page } = await openLogin(w);
  const answers = await Promise.all(guesses.map((g) => browser.submit(page, /\/login$/, g)));
  const count: Record<number, number> = {};
  for (const a of answers) count[a.res.status] = (count[a.res.status] ?? 0) + 1;
  return count;
}

describe.each(['real', 'standin'] as const)('parallel password guessing (Redis: %s)', (redis) => {
  let w: PushWorld | null = null;
  // The stand-in serves the embedded setup only (the IdP refuses it beside PostgreSQL): PGlite then.
  const start = () => PushWorld.start({ idp: { storage: redis === 'real' ? 'postgres' : 'pglite', redis, idp: { now: () => 1_800_000_000_000 } } });
  afterEach(async () => { await w?.close(); w = null; });

  it(`${PARALLEL} wrong passwords at once for one username: only the free failures are checked, the rest get 429`, async () => {
    w = await start();
    const count = await burst(w, Array.from({ length: PARALLEL }, (_, i) => ({ username: 'alice', password: `wrong guess ${i}` })));
    expect(count).toEqual({ 401: ACCOUNT_POLICY.freeFailures, 429: PARALLEL - ACCOUNT_POLICY.freeFailures });
    expect(await auditEvents(w, 'signin.failure')).toHaveLength(ACCOUNT_POLICY.freeFailures);
    // The account is not thereby open: the right password waits too.
    expect((await burst(w, [{ username: 'alice', password: PushWorld.password }]))).toEqual({ 429: 1 });
  });

  it(`${PARALLEL} wrong passwords at once from one IP, each for another username: the per-IP limit holds`, async () => {
    w = await start();
    const count = await burst(w, Array.from({ length: PARALLEL }, (_, i) => ({ username: `someone-${i}`, password: 'wrong guess' })));
    expect(count).toEqual({ 401: IP_POLICY.freeFailures, 429: PARALLEL - IP_POLICY.freeFailures });
    expect(await auditEvents(w, 'signin.failure')).toHaveLength(IP_POLICY.freeFailures);
  });
});
