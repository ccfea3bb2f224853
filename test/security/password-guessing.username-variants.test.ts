import { afterEach, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { ACCOUNT_POLICY } from '../../src/defences/throttle.js';
import { auditEvents } from '../signin/helpers.js';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Re-audit, item 1 "with odd bytes": the password limit is per username, but the account is found
 * by PostgreSQL's lower(), which folds more than JavaScript's toLowerCase() keeps apart: "alİce"
 * (U+0130, capital I with dot) is alice's account to lower() and another username to the
 * throttle ("ali̇ce"). Each spelling of the name bought a fresh set of guesses at alice's password.
 */
async function loginPage(w: PushWorld): Promise<{ browser: FormBrowser; page: string }> {
  const browser = new FormBrowser(w.t.url);
  const url = oidc.buildAuthorizationUrl(w.rp, {
    redirect_uri: RP_CALLBACK, scope: 'openid', state: oidc.randomState(),
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  return { browser, page: (await browser.go(url.href)).body };
}

describe('password guessing under other spellings of the username', () => {
  let w: PushWorld | null = null;
  afterEach(async () => { await w?.close(); w = null; });

  it('"alİce" and "ALICE" count toward the limit of alice, the account they sign in to', async () => {
    w = await PushWorld.start({ idp: { storage: 'postgres', redis: 'real', idp: { now: () => 1_800_000_000_000 } } });
    // The spelling reaches alice's account: the right password signs her in under it.
    expect((await w.t.idp.accounts.findByUsername('alİce'))?.username).toBe('alice');

    const spellings = ['alice', 'alİce', 'ALİCE', 'ALICE'];
    const statuses: number[] = [];
    for (const username of spellings) {
      for (let i = 0; i < ACCOUNT_POLICY.freeFailures; i++) {
        const { browser, page } = await loginPage(w);
        statuses.push((await browser.submit(page, /\/login$/, { username, password: `wrong guess ${username} ${i}` })).res.status);
      }
    }
    // Only the free failures of one username were checked; every other guess waited.
    expect(statuses.filter((s) => s === 401)).toHaveLength(ACCOUNT_POLICY.freeFailures);
    expect(await auditEvents(w, 'signin.failure')).toHaveLength(ACCOUNT_POLICY.freeFailures);
  });
});

/**
 * Red-team (headless round, 2026-12-05): the fix above keyed a known name by its account and an
 * unknown one by toLowerCase(), so "mİra" and "mira" shared a count only when the account existed:
 * three wrong guesses as "mİra", then one as "mira", was throttled for an account and checked for
 * no account, which told anyone whether a username exists. An unknown name is keyed as the look-up
 * folds it (PostgreSQL's lower()), so its spellings share a count too.
 */
describe('whether a username exists, asked of the password limit', () => {
  let w: PushWorld | null = null;
  afterEach(async () => { await w?.close(); w = null; });

  it('the dotted spelling then the plain one: the same answers for an account and for no account', async () => {
    w = await PushWorld.start({ idp: { storage: 'postgres', redis: 'real', idp: { now: () => 1_800_000_000_000 } } });
    let n = 0;
    // Eight guesses from one address: under the per-IP limit's free failures (20).
    const guess = async (username: string) => {
      const { browser, page } = await loginPage(w!);
      return (await browser.submit(page, /\/login$/, { username, password: `wrong guess ${++n}` })).res.status;
    };
    const probe = async (name: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < ACCOUNT_POLICY.freeFailures; i++) statuses.push(await guess(name.replace('i', '\u0130')));
      statuses.push(await guess(name));
      return statuses;
    };
    const known = await probe('alice');
    const unknown = await probe('alisha-nobody');
    expect(unknown).toEqual(known);
    expect(known.at(-1)).toBe(429);
  });
});

/**
 * Re-audit, item 1 and 5: the per-IP limit is what stops one client trying one password on many
 * usernames. An IPv6 client holds a whole /64 (RFC 4291 2.5.1, the interface identifier is the
 * host's to choose; privacy addresses, RFC 8981, change it freely), so counting per /128 gave it
 * 2^64 fresh limits. Counted per /64, as per IPv4 address.
 */
describe('password spraying from one IPv6 /64', () => {
  let w: PushWorld | null = null;
  afterEach(async () => { await w?.close(); w = null; });

  it('40 usernames, each from another address of one /64 (through a trusted proxy): the per-IP limit holds', async () => {
    const { IP_POLICY } = await import('../../src/defences/throttle.js');
    w = await PushWorld.start({ idp: { storage: 'postgres', redis: 'real', env: { TRUST_PROXY: '1' }, idp: { now: () => 1_800_000_000_000 } } });
    const statuses: number[] = [];
    for (let i = 0; i < IP_POLICY.freeFailures * 2; i++) {
      const { browser, page } = await loginPage(w);
      const csrf = page.match(/name="csrf" value="([^"]+)"/)![1]!;
      const action = page.match(/<form[^>]*action="([^"]*\/login)"/)![1]!;
      const res = await browser.request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `2001:db8:77:1:${(i + 1).toString(16)}::1` },
        body: new URLSearchParams({ csrf, username: `sprayed-${i}`, password: 'Winter2026!' }).toString(),
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(IP_POLICY.freeFailures);
    expect(statuses.filter((s) => s === 429)).toHaveLength(IP_POLICY.freeFailures);
  });
});
