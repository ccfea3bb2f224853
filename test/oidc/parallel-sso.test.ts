import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { storageKey } from '../../src/oidc/adapters.js';
import { ssoGrantClaimKey } from '../../src/oidc/sso-grant-claim.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { signInToCallback } from '../support/rp-sign-in.js';
import type { FormBrowser } from '../support/web-browser.js';

/**
 * Several tabs of one app opened at once in a browser already signed in (tabs restored together,
 * links opened in a burst): each load is a single sign-on into the app, and each tab's code must
 * give tokens. The session names one grant per app; the loads used to make one grant each, the
 * session's last save won, and the other tabs' codes came back `invalid_grant` (5 of 6).
 */
describe.each([
  { storage: 'postgres', redis: 'real' },
  { storage: 'pglite', redis: 'standin' }, // the zero-setup default
] as const)('parallel single sign-on loads of one app ($storage, $redis Redis)', ({ storage, redis }) => {
  let t: TestIdp;
  let first: oidc.Configuration;
  let second: oidc.Configuration;
  beforeAll(async () => {
    t = await startTestIdp({ storage, redis, clients: [testRp({ login: { consent: 'implicit' } }), testRp({ client_id: 'second-rp', login: { consent: 'implicit' } })] });
    const discover = (id: string) => oidc.discovery(new URL(t.url), id, TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    [first, second] = await Promise.all([discover('test-rp'), discover('second-rp')]);
  });
  afterAll(() => t.close());

  /** One tab: the app's authorization request in `browser`, back at the callback, the code exchanged (or why not). */
  const tab = async (browser: FormBrowser, config: oidc.Configuration, state: string) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).href;
    const back = new URL((await browser.go(url)).url);
    const code = back.searchParams.get('code');
    const grantId = code ? (await t.idp.provider.AuthorizationCode.find(code))?.grantId : undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
      return { sub: tokens.claims()!.sub, grantId, error: null };
    } catch (err) {
      return { sub: null, grantId, error: (err as { error?: string }).error ?? (err as Error).message };
    }
  };
  const tabs = (browser: FormBrowser, config: oidc.Configuration, n: number, label: string) =>
    Promise.all(Array.from({ length: n }, (_, i) => tab(browser, config, `${label}${i}`)));
  const grantRows = async (clientId: string, accountId: string) => (await t.idp.db.query<{ id: string }>(
    `SELECT id FROM oidc_payloads WHERE model = 'Grant' AND payload->>'clientId' = $1 AND payload->>'accountId' = $2`, [clientId, accountId])).map((r) => r.id);

  it('gives every tab tokens, all of one grant, and the session names that grant afterwards', async () => {
    const signedIn = await signInToCallback(t, first, 'tabs');
    const sub = (await signedIn.exchange()).claims()!.sub;
    const results = await tabs(signedIn.browser, second, 8, 'burst');
    expect(results.map((r) => r.error)).toEqual(Array(8).fill(null));
    expect(new Set(results.map((r) => r.sub))).toEqual(new Set([sub]));
    const grantIds = new Set(results.map((r) => r.grantId));
    expect(grantIds.size).toBe(1);
    expect(await grantRows('second-rp', sub)).toEqual([storageKey([...grantIds][0]!)]);
    // A later load of the app uses the same grant.
    const later = await tab(signedIn.browser, second, 'later');
    expect(later).toMatchObject({ error: null, sub, grantId: [...grantIds][0] });
  }, 60_000);

  it('gives two browsers of one user a grant each: a claim is the session\'s, not the account\'s', async () => {
    const one = await signInToCallback(t, first, 'twobrowsers');
    const sub = (await one.exchange()).claims()!.sub;
    const other = await signInToCallback(t, first, 'twobrowsers', 'openid', { existing: true });
    await other.exchange();
    const [a, b] = await Promise.all([tabs(one.browser, second, 3, 'a'), tabs(other.browser, second, 3, 'b')]);
    expect([...a, ...b].map((r) => r.error)).toEqual(Array(6).fill(null));
    expect(new Set(a.map((r) => r.grantId)).size).toBe(1);
    expect(new Set(b.map((r) => r.grantId)).size).toBe(1);
    expect(a[0]!.grantId).not.toBe(b[0]!.grantId);
    expect((await grantRows('second-rp', sub)).length).toBe(2);
  }, 60_000);

  it('never takes a destroyed grant\'s id again: the tabs after it agree on a new one', async () => {
    const signedIn = await signInToCallback(t, first, 'destroyed');
    const sub = (await signedIn.exchange()).claims()!.sub;
    const before = await tabs(signedIn.browser, second, 3, 'before');
    const destroyedId = before[0]!.grantId!;
    await (await t.idp.provider.Grant.find(destroyedId))!.destroy();
    const after = await tabs(signedIn.browser, second, 4, 'after');
    expect(after.map((r) => r.error)).toEqual(Array(4).fill(null));
    const ids = new Set(after.map((r) => r.grantId));
    expect(ids.size).toBe(1);
    expect(ids.has(destroyedId)).toBe(false);
    expect(await grantRows('second-rp', sub)).toEqual([storageKey([...ids][0]!)]);
  }, 60_000);
});

describe('the claim\'s key', () => {
  const base = { sessionUid: 'session-uid-1', accountId: 'acc-1', clientId: 'app' };
  it('is one per session, account, app and destroyed grant, and names none of them', () => {
    const keys = [
      base, { ...base, sessionUid: 'session-uid-2' }, { ...base, accountId: 'acc-2' }, { ...base, clientId: 'app2' }, { ...base, staleGrantId: 'g1' },
    ].map(ssoGrantClaimKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(ssoGrantClaimKey({ ...base })).toBe(keys[0]);
    for (const k of keys) expect(k).not.toMatch(/session-uid|acc-|app/);
  });
});
