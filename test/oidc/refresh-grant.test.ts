import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { storageKey } from '../../src/oidc/adapters.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { signInToCallback } from '../support/rp-sign-in.js';

/**
 * A refresh grant reads its refresh token and its grant in one statement (src/oidc/refresh-prefetch.ts).
 * What an app sees must not change: the grant is read afresh by every request, so a grant that is
 * gone (revoked, signed out, expired) refuses the very next refresh.
 */
describe('refresh-token grants', () => {
  let t: TestIdp;
  let config: oidc.Configuration;
  beforeAll(async () => {
    t = await startTestIdp({ storage: 'postgres', redis: 'real', clients: [testRp({ login: { consent: 'implicit' } })] });
    config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => t.close());

  async function signIn(username: string, tokenParameters?: Record<string, string>) {
    const tokens = await (await signInToCallback(t, config, username, 'openid profile')).exchange(tokenParameters);
    const rt = await t.idp.provider.RefreshToken.find(tokens.refresh_token!);
    return { tokens, grantId: rt!.grantId! };
  }

  it('answers with an ID token for the same user and scope, again and again', async () => {
    const { tokens } = await signIn('rita');
    const sub = tokens.claims()!.sub;
    for (let i = 0; i < 3; i++) {
      const again = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(again.claims()!.sub).toBe(sub);
      expect(again.scope).toBe('openid profile');
      expect(again.access_token).not.toBe(tokens.access_token);
      // Signed in place (src/oidc/fast-signing.ts): it verifies with the published keys.
      const { payload, protectedHeader } = await jwtVerify(again.id_token!, createRemoteJWKSet(new URL(`${t.url}/jwks`)), { issuer: t.url, audience: 'test-rp' });
      expect(payload.sub).toBe(sub);
      expect(protectedHeader.kid).toBeTruthy();
    }
  });

  it('is refused as soon as the grant is gone, though the refresh token row is still there', async () => {
    const { tokens, grantId } = await signIn('remo');
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
    const grant = await t.idp.provider.Grant.find(grantId);
    await grant!.destroy();
    expect(await t.idp.provider.RefreshToken.find(tokens.refresh_token!)).toBeTruthy();
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('is refused once the grant has expired', async () => {
    const { tokens, grantId } = await signIn('rosa');
    const moved = await t.idp.db.query(`UPDATE oidc_payloads SET expires_at = now() - interval '1 second'
      WHERE model = 'Grant' AND id = $1 RETURNING id`, [storageKey(grantId)]);
    expect(moved).toHaveLength(1);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  // RFC 8707's resource indicator: no resource servers are registered, so it is ignored as any unknown
  // parameter (RFC 6749 3.1). It used to be refused invalid_target after the code was spent.
  it('ignores a resource indicator at the code exchange and at refresh', async () => {
    const { tokens } = await signIn('reed', { resource: 'https://api.example/' });
    expect(tokens.access_token).toBeTruthy();
    const again = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: 'urn:x' });
    expect(again.claims()!.sub).toBe(tokens.claims()!.sub);
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
  });

  it('is refused after the app revokes its refresh token', async () => {
    const { tokens } = await signIn('ruth');
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

/**
 * A public client's refresh tokens rotate (oidc-provider's default): each is used once. Parallel
 * refreshes with one token all read it unconsumed; the consume decides (src/oidc/adapters.ts
 * SqlAdapter.consume), so exactly one gets a new token and the rest invalid_grant.
 */
describe('refresh-token rotation under a race (public client)', () => {
  let t: TestIdp;
  let config: oidc.Configuration;
  beforeAll(async () => {
    t = await startTestIdp({
      storage: 'postgres', redis: 'real',
      clients: [testRp({ client_id: 'public-rp', client_secret_env: undefined, token_endpoint_auth_method: 'none', login: { consent: 'implicit' } })],
    });
    config = await oidc.discovery(new URL(t.url), 'public-rp', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => t.close());

  it('of 10 parallel refreshes with one rotating token exactly one succeeds', async () => {
    const tokens = await (await signInToCallback(t, config, 'rafe')).exchange();
    expect(tokens.refresh_token).toBeTruthy();
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => oidc.refreshTokenGrant(config, tokens.refresh_token!)));
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect((won[0] as PromiseFulfilledResult<oidc.TokenEndpointResponse>).value.refresh_token).not.toBe(tokens.refresh_token);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ error: 'invalid_grant' });
  });

  // RFC 9700 4.14.2: a rotated refresh token used again tells of a theft, and the token family is
  // revoked. Used twice at the same moment, both requests read it unused; the loser learns of the
  // winner only as it consumes it (src/oidc/adapters.ts revokingOnReuse). Red-team: the winner's new
  // refresh token and access token then went on working, 8 pairs of 8; a later reuse did revoke.
  it('a rotating refresh token used twice at once: the loser is refused and the winner\'s new tokens are revoked too', async () => {
    for (let round = 0; round < 4; round++) {
      const tokens = await (await signInToCallback(t, config, `rhea${round}`)).exchange();
      const outcomes = await Promise.allSettled([0, 1].map(() => oidc.refreshTokenGrant(config, tokens.refresh_token!)));
      const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      expect(won).toHaveLength(1);
      expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { error: 'invalid_grant' } });
      await expect(oidc.refreshTokenGrant(config, won[0]!.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(oidc.fetchUserInfo(config, won[0]!.access_token, oidc.skipSubjectCheck)).rejects.toMatchObject({ status: 401 });
    }
  });
});
