import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { addUser, auditEvents, CALLBACK, startWorld } from '../signin/helpers.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Red-team finding (fixed). Before the user's first phone, a password-only /account session enrolls a phone and
 * leaves it pending (never a signed call). Its TOTP, typed, is a second factor everywhere (a typed
 * TOTP does not confirm the device), so the attacker holds an SSO session and tokens with amr mfa.
 * The owner's first enrollment then revokes that pending phone (device.revoked by first_enrollment),
 * but not what it signed in, while every other revoke ends the account's sessions (README, "Sessions
 * outliving ... a lost phone"). Now this one does too.
 */
describe('a pending phone voided by the first enrollment takes its sessions with it', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('the owner\'s first enrollment ends the SSO session signed in with the pending phone it revokes', async () => {
    const bobId = await addUser(w, 'bob');
    // 1. The attacker's /account (password alone, no device yet) issues a code; the phone enrolls and stays pending.
    const attackerCode = await w.t.idp.deviceService.issueEnrollment(bobId, `self:${bobId}`);
    const planted = await SimulatedAuthenticator.enroll(w.t.url, attackerCode.code, { name: 'planted' });
    // 2. Password + the pending phone's TOTP: a sign-in with mfa, tokens, and an SSO session in the attacker's browser.
    const attacker = new FormBrowser(w.t.url);
    const { uid, verifier, state } = await w.startSignIn({ username: 'bob' }, attacker);
    const page = await attacker.go(`/interaction/${uid}/passcode`);
    const next = await attacker.submit(page.body, /\/passcode$/, { passcode: planted.currentTotp() });
    expect(next.url).toMatch(CALLBACK);
    const tokens = await w.tokens(next.url, verifier, state);
    expect(tokens.claims()!.amr).toContain('mfa');
    const [row] = await w.t.idp.db.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM devices WHERE id = $1', [planted.deviceId]);
    expect(row!.last_used_at).toBeNull(); // still pending: the typed TOTP confirmed nothing
    // 3. Bob enrolls his own first phone (/account code) and it confirms: the planted phone is revoked.
    const ownCode = await w.t.idp.deviceService.issueEnrollment(bobId, `self:${bobId}`);
    const own = await SimulatedAuthenticator.enroll(w.t.url, ownCode.code, { name: 'bob phone' });
    await own.pending();
    const revoked = (await auditEvents(w, 'device.revoked')).filter((e) => e.detail.deviceId === planted.deviceId);
    expect(revoked).toHaveLength(1);
    expect(revoked[0]!.detail.by).toBe('first_enrollment');
    // 4. Secure: what the voided phone signed in is over (as after any revoke).
    const v = oidc.randomPKCECodeVerifier();
    const again = await attacker.go(oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(v), code_challenge_method: 'S256',
    }).href);
    const ssoAlive = CALLBACK.test(again.url); // SSO session ended: a login page, not a code
    const userinfo = await fetch(w.rp.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect({ ssoAlive, userinfo: userinfo.status }).toEqual({ ssoAlive: false, userinfo: 401 });
  });
});
