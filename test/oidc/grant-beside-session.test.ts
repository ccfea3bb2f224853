import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { adapterFactory, storageKey } from '../../src/oidc/adapters.js';
import { withGrantBesideSession } from '../../src/oidc/grant-beside-session.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { signInToCallback } from '../support/rp-sign-in.js';
import { statementsDuring } from '../support/sql-spy.js';

/**
 * A sign-in's resume writes its Grant and the browser's Session in one statement
 * (src/oidc/grant-beside-session.ts). What an app sees must not change: the code is exchanged for
 * tokens of that grant, a single sign-on into a second app gets its own grant, and a grant saved
 * where no session save takes it is still written before the request answers.
 */
describe.each([
  { storage: 'postgres', redis: 'real' },
  { storage: 'pglite', redis: 'standin' }, // the zero-setup default
] as const)('grant written beside the session ($storage, $redis Redis)', ({ storage, redis }) => {
  let t: TestIdp;
  let config: oidc.Configuration;
  let other: oidc.Configuration;
  beforeAll(async () => {
    t = await startTestIdp({ storage, redis, clients: [testRp({ login: { consent: 'implicit' } }), testRp({ client_id: 'other-rp', login: { consent: 'implicit' } })] });
    const discover = (id: string) => oidc.discovery(new URL(t.url), id, TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    [config, other] = await Promise.all([discover('test-rp'), discover('other-rp')]);
  });
  afterAll(() => t.close());

  /** The statements writing oidc_payloads while `fn` runs, each as the models it writes (its parameters). */
  const writesDuring = async (fn: () => Promise<unknown>): Promise<string[][]> =>
    (await statementsDuring(t.idp.db, ({ sql }) => /INSERT INTO oidc_payloads/i.test(sql), fn))
      .map(({ params }) => params.filter((p): p is string => p === 'Grant' || p === 'Session').sort());

  const grantRow = async (grantId: string) => (await t.idp.db.query<{ payload: { accountId: string; clientId: string } }>(
    `SELECT payload FROM oidc_payloads WHERE model = 'Grant' AND id = $1`, [storageKey(grantId)]))[0];

  it('writes the grant and the session in one statement, and the code gives tokens of that grant', async () => {
    let signedIn: Awaited<ReturnType<typeof signInToCallback>> | undefined;
    const writes = await writesDuring(async () => { signedIn = await signInToCallback(t, config, 'gwen'); });
    expect(writes.filter((w) => w.includes('Grant'))).toEqual([['Grant', 'Session']]);
    const code = await t.idp.provider.AuthorizationCode.find(signedIn!.callback.searchParams.get('code')!);
    const grant = await grantRow(code!.grantId!);
    expect(grant?.payload).toMatchObject({ accountId: code!.accountId, clientId: 'test-rp' });
    const tokens = await signedIn!.exchange();
    expect(tokens.claims()!.sub).toBe(code!.accountId);
    expect(tokens.access_token).toBeTruthy();
  });

  it('gives a single sign-on into a second app its own grant, written with the session saved again', async () => {
    const { callback, browser } = await signInToCallback(t, config, 'gale');
    const first = await t.idp.provider.AuthorizationCode.find(callback.searchParams.get('code')!);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(other, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state: 's2',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).href;
    let back: { url: string } | undefined;
    const writes = await writesDuring(async () => { back = await browser.go(url); });
    expect(writes.filter((w) => w.includes('Grant'))).toEqual([['Grant', 'Session']]);
    const sso = new URL(back!.url);
    expect(sso.searchParams.get('state')).toBe('s2');
    const code = await t.idp.provider.AuthorizationCode.find(sso.searchParams.get('code')!);
    expect(code!.grantId).not.toBe(first!.grantId);
    expect((await grantRow(code!.grantId!))?.payload).toMatchObject({ accountId: first!.accountId, clientId: 'other-rp' });
    const tokens = await oidc.authorizationCodeGrant(other, sso, { pkceCodeVerifier: verifier, expectedState: 's2' });
    expect(tokens.claims()!.sub).toBe(first!.accountId);
  });

  describe('in a request', () => {
    const grantPayload = (accountId: string) => ({ kind: 'Grant', jti: 'g', accountId, clientId: 'test-rp', openid: { scope: 'openid' }, iat: 1, exp: 4_000_000_000 });
    /** A writer inside one request on `route`, and a fresh grant id. */
    const inRequest = (route: string, onEndedSave?: () => void) => {
      const request = { oidc: { route } };
      const writes = withGrantBesideSession(adapterFactory(t.idp.db, t.idp.redis, Date.now, onEndedSave), t.idp.db, () => request, Date.now);
      return { request, writes, id: `grant-${Math.random().toString(36).slice(2)}` };
    };
    const exists = async (model: string, id: string) => (await t.idp.db.query(`SELECT 1 FROM oidc_payloads WHERE model = $1 AND id = $2`, [model, storageKey(id)])).length === 1;

    it('is answered from the waiting row, and written by flush when no session save took it', async () => {
      const { request, writes, id } = inRequest('resume');
      const grants = writes.adapters('Grant');
      await grants.upsert(id, grantPayload('acc-1'), 3600);
      expect(await exists('Grant', id)).toBe(false);
      expect(await grants.find(id)).toMatchObject({ jti: id, accountId: 'acc-1', kind: 'Grant' });
      // An anonymous session (Redis) takes nothing with it.
      await writes.adapters('Session').upsert(`anon-${id}`, { kind: 'Session', jti: `anon-${id}`, uid: `u-${id}`, exp: 4_000_000_000 } as never, 600);
      expect(await exists('Grant', id)).toBe(false);
      await writes.flush(request);
      expect(await exists('Grant', id)).toBe(true);
      // After the flush, a save in the same request is written at once.
      const later = `${id}-later`;
      await grants.upsert(later, grantPayload('acc-1'), 3600);
      expect(await exists('Grant', later)).toBe(true);
    });

    it('is written at once on a route that saves no session (a CIBA approval in its request\'s context)', async () => {
      const { writes, id } = inRequest('backchannel_authentication');
      await writes.adapters('Grant').upsert(id, grantPayload('acc-4'), 3600);
      expect(await exists('Grant', id)).toBe(true);
    });

    it('a grant destroyed before the session save is not written with it', async () => {
      const { request, writes, id } = inRequest('resume');
      await writes.adapters('Grant').upsert(id, grantPayload('acc-2'), 3600);
      await writes.adapters('Grant').destroy(id);
      await writes.adapters('Session').upsert(`s-${id}`, { kind: 'Session', jti: `s-${id}`, uid: `u-${id}`, accountId: 'acc-2', exp: 4_000_000_000 } as never, 600);
      await writes.flush(request);
      expect(await exists('Session', `s-${id}`)).toBe(true);
      expect(await exists('Grant', id)).toBe(false);
    });

    it('a save over an ended session still writes the grant beside it, and leaves the session ended', async () => {
      let endedSaves = 0;
      const { writes, id } = inRequest('resume', () => { endedSaves++; });
      const sid = `s-${id}`;
      const session = { kind: 'Session', jti: sid, uid: `u-${id}`, accountId: 'acc-3', exp: 4_000_000_000 } as never;
      const sessions = writes.adapters('Session');
      await sessions.upsert(sid, session, 600);
      await sessions.destroy(sid); // ended: marked, kept
      await writes.adapters('Grant').upsert(id, grantPayload('acc-3'), 3600);
      await sessions.upsert(sid, session, 600);
      expect(endedSaves).toBe(1);
      expect(await exists('Grant', id)).toBe(true);
      expect(await sessions.find(sid)).toBeUndefined();
    });
  });
});
