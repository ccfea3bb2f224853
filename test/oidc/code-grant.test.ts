import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { storageKey } from '../../src/oidc/adapters.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { signInToCallback } from '../support/rp-sign-in.js';
import { statementsDuring } from '../support/sql-spy.js';

/**
 * A code exchange reads the code's session and grant in one statement (src/oidc/code-prefetch.ts).
 * What an app sees must not change: a code whose session ended (signed out) or whose grant is gone
 * (revoked, expired) between the redirect and the exchange is refused invalid_grant, as before.
 */
describe.each([
  { storage: 'postgres', redis: 'real' },
  { storage: 'pglite', redis: 'standin' }, // the zero-setup default: embedded PGlite, the in-process Redis stand-in
] as const)('authorization-code exchange ($storage, $redis Redis)', ({ storage, redis }) => {
  let t: TestIdp;
  let config: oidc.Configuration;
  beforeAll(async () => {
    t = await startTestIdp({ storage, redis, clients: [testRp({ login: { consent: 'implicit' } })] });
    config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => t.close());

  /** Signs in up to the redirect back to the app; the code is not exchanged yet. */
  async function redirectBack(username: string) {
    const { callback, exchange: exchangeWith } = await signInToCallback(t, config, username);
    const code = await t.idp.provider.AuthorizationCode.find(callback.searchParams.get('code')!);
    expect(code?.expiresWithSession).toBe(true); // bound to its session: both are read at the exchange
    const exchange = () => exchangeWith();
    return { exchange, grantId: code!.grantId!, sessionUid: code!.sessionUid! };
  }

  /** The SELECTs on oidc_payloads the IdP makes while `fn` runs. */
  const readsDuring = async (fn: () => Promise<unknown>): Promise<string[]> =>
    (await statementsDuring(t.idp.db, ({ sql }) => /^\s*\(?\s*SELECT[\s\S]*FROM oidc_payloads/i.test(sql), fn)).map((s) => s.sql);

  it('answers with tokens for the user, reading the code\'s grant and session in one statement', async () => {
    const { exchange } = await redirectBack('cora');
    let tokens: Awaited<ReturnType<typeof exchange>> | undefined;
    const reads = await readsDuring(async () => { tokens = await exchange(); });
    expect(tokens!.claims()!.sub).toBeTruthy();
    expect(tokens!.access_token).toBeTruthy();
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/'Grant'[\s\S]*'Session'/);
  });

  it('is refused when the session ended before the exchange (the user signed out)', async () => {
    const { exchange, sessionUid } = await redirectBack('cleo');
    // As a sign-out removes it (src/oidc/sessions.ts ends sessions by deleting their rows).
    const gone = await t.idp.db.query(`DELETE FROM oidc_payloads WHERE model = 'Session' AND uid = $1 RETURNING id`, [sessionUid]);
    expect(gone).toHaveLength(1);
    await expect(exchange()).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('is refused when the grant is gone before the exchange', async () => {
    const { exchange, grantId } = await redirectBack('cole');
    const grant = await t.idp.provider.Grant.find(grantId);
    await grant!.destroy();
    await expect(exchange()).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('is refused when the grant has expired before the exchange', async () => {
    const { exchange, grantId } = await redirectBack('cory');
    const moved = await t.idp.db.query(`UPDATE oidc_payloads SET expires_at = now() - interval '1 second'
      WHERE model = 'Grant' AND id = $1 RETURNING id`, [storageKey(grantId)]);
    expect(moved).toHaveLength(1);
    await expect(exchange()).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('a code works once under a race too: of 12 parallel exchanges exactly one gets tokens', async () => {
    const { exchange } = await redirectBack('cyra');
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => exchange()));
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ error: 'invalid_grant' });
  });

  // RFC 6749 4.1.2: a code used twice is refused and the tokens it gave SHOULD be revoked. Two
  // exchanges at once both read the code unused; the loser learns of the winner only as it consumes
  // it (src/oidc/adapters.ts revokingOnReuse). Red-team: the winner's tokens then stayed valid, 8
  // pairs of 8, so a thief's exchange that raced the app's and won kept its tokens.
  it('a code exchanged twice at once: one is refused, and the tokens of the one that won are revoked', async () => {
    for (let round = 0; round < 4; round++) {
      const { exchange } = await redirectBack(`cato${round}`);
      const outcomes = await Promise.allSettled([exchange(), exchange()]);
      const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      expect(won).toHaveLength(1);
      expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { error: 'invalid_grant' } });
      const introspected = await oidc.tokenIntrospection(config, won[0]!.access_token);
      expect(introspected.active).toBe(false);
      await expect(oidc.fetchUserInfo(config, won[0]!.access_token, oidc.skipSubjectCheck)).rejects.toMatchObject({ status: 401 });
      expect(won[0]!.refresh_token).toBeTruthy();
      await expect(oidc.refreshTokenGrant(config, won[0]!.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    }
  });

  it('a code works once: the second exchange is refused', async () => {
    const { exchange } = await redirectBack('coco');
    expect((await exchange()).access_token).toBeTruthy();
    await expect(exchange()).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
