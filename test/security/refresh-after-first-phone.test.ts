import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/web-browser.js';
import { enrollPhone, newUser, signIn, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Red-team: someone who knew the password before the owner's first phone signed in to an app that
 * lets accounts without a phone in with the password (noDevice: password-only). After the owner
 * enrolled a phone, a new authorization asked for the second factor, but the refresh token taken
 * before went on minting access and ID tokens for its 14 days, with or without the SSO session.
 * A refresh token must still meet the app's policy with the factors of the sign-in that made it.
 */
describe('a refresh token from a password-only sign-in, after the account\'s first phone', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  const refused = async (config: oidc.Configuration, refreshToken: string) => {
    try {
      await oidc.refreshTokenGrant(config, refreshToken);
      return 'refreshed';
    } catch (err) {
      return (err as { error?: string }).error ?? String(err);
    }
  };

  it('refreshes while the account has no phone, and is refused (invalid_grant) once it has one', async () => {
    const id = await newUser(w, `rt-first-${Date.now()}`);
    const username = (await w.t.idp.accounts.findById(id))!.username;
    const attacker = new FormBrowser(w.t.url);
    const tokens = await signIn(w.open, attacker, username);
    expect(tokens.claims()!.amr).toEqual(['pwd']);
    const before = await oidc.refreshTokenGrant(w.open, tokens.refresh_token!);
    expect(before.claims()!.amr).toEqual(['pwd']);

    await enrollPhone(w, id);
    expect(await refused(w.open, before.refresh_token ?? tokens.refresh_token!)).toBe('invalid_grant');
    // Also with the SSO session gone (an idle timeout, the attacker's own sign-out): offline access is no way round.
    await w.t.idp.db.query(`DELETE FROM oidc_payloads WHERE model = 'Session' AND payload->>'accountId' = $1`, [id]);
    expect(await refused(w.open, before.refresh_token ?? tokens.refresh_token!)).toBe('invalid_grant');
  });

  it('a refresh token from a sign-in with the phone keeps refreshing when another phone is added', async () => {
    const id = await newUser(w, `rt-mfa-${Date.now()}`);
    const username = (await w.t.idp.accounts.findById(id))!.username;
    const phone = await enrollPhone(w, id);
    const tokens = await signIn(w.strict, new FormBrowser(w.t.url), username, phone);
    expect(tokens.claims()!.amr).toContain('mfa');
    await enrollPhone(w, id);
    const after = await oidc.refreshTokenGrant(w.strict, tokens.refresh_token!);
    expect(after.claims()!.amr).toContain('mfa');
    expect(after.access_token).toBeTruthy();
  });
});
