import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { CIBA_GRANT, CibaWorld, cibaClient, type CibaUser } from './world.js';

/**
 * Red-team finding (fixed: oidc/provider.ts findAccount refuses, with invalid_grant, a CIBA request
 * made before the account's end, read fresh at the exchange). An admin's `user sign-out` / `user
 * set-password` / `device revoke` (all call endAccountSessions) landing while a CIBA approval is being finished: after the sign-in core's
 * finish check read the account (no end yet), before the CIBA door saved its Grant.
 *
 * The page door has a second line for exactly this window (the code's exchange compares the
 * sign-in with the account's end, README "Sessions outliving..."); the CIBA door had none: the
 * Grant was saved after the end's DELETE, the auth_req_id then gave tokens, userinfo answered, and
 * the refresh token (auth_time = the settle's time, after the end) refreshed for 14 days.
 *
 * The admin's action is placed deterministically in that window by hooking the `signin.success`
 * audit insert (finish.ts records it after its account read, before returning to the CIBA door).
 */
describe('CIBA approval racing the end of the account\'s sessions', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;
  let user: CibaUser;

  beforeAll(async () => {
    w = await CibaWorld.start({ idp: { clients: [cibaClient('ciba-poll', 'poll', { grant_types: [CIBA_GRANT, 'refresh_token'] })] } });
    rp = await w.rp();
    user = await w.user(`cibarace-${Date.now()}`);
  });
  afterAll(async () => { await w?.close(); });

  /** Hooks the sign-in core's `signin.success` insert for `accountId` and runs `during` there, once; then runs the CIBA flow. */
  const raceOnce = async (u: CibaUser, during: () => Promise<unknown>) => {
    const db = w.t.idp.db;
    const original = db.query.bind(db);
    let fired = false;
    (db as { query: typeof db.query }).query = (async (sql: string, params?: readonly unknown[]) => {
      const rows = await original(sql, params);
      if (!fired && sql.startsWith('INSERT INTO audit_events') && params?.includes('signin.success') && params.includes(u.accountId)) {
        fired = true;
        await during();
      }
      return rows;
    }) as typeof db.query;
    const observed: string[] = [];
    try {
      const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid profile', login_hint: u.username });
      const push = await w.pushService.waitForMessage(u.subscription.id);
      expect((await u.phone.respond(push.payload.cid, 'approve')).body).toEqual({ status: 'approved' });
      expect(fired).toBe(true);
      const tokens = await oidc.pollBackchannelAuthenticationGrant(rp, started).catch(() => null);
      if (tokens) {
        observed.push('tokens after the end');
        if (await oidc.fetchUserInfo(rp, tokens.access_token, u.accountId).then(() => true, () => false)) observed.push('userinfo after the end');
        if (tokens.refresh_token) {
          await new Promise((r) => setTimeout(r, 5200)); // past the per-process account cache
          const again = await oidc.refreshTokenGrant(rp, tokens.refresh_token).catch(() => null);
          if (again?.access_token) observed.push('refresh after the end');
        }
      }
    } finally {
      (db as { query: typeof db.query }).query = original;
    }
    return observed;
  };

  it('`user sign-out` landing between the finish check and the grant save: no usable tokens', async () => {
    // What `npm run admin -- user sign-out` (and set-password, disable) does, landing in the window.
    expect(await raceOnce(user, () => w.t.idp.endAccountSessions(user.accountId))).toEqual([]);
  }, 60_000);

  it('the approving (stolen) phone revoked in that window: no usable tokens', async () => {
    const victim = await w.user(`cibarevoke-${Date.now()}`);
    const [device] = await w.t.idp.deviceService.listDevices(victim.accountId);
    // What `npm run admin -- device revoke` or /account's revoke does (devices/service.ts revokeDevice:
    // the revoke, then the account's sessions end), without its audit line (the hook sits inside the
    // audit writer's insert, which a second record would wait for).
    expect(await raceOnce(victim, async () => {
      await w.t.idp.devices.revoke(device!.id);
      await w.t.idp.endAccountSessions(victim.accountId);
    })).toEqual([]);
  }, 60_000);
});
