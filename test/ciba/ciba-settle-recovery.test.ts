import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { CibaWorld, type CibaUser } from './world.js';

/**
 * A CIBA request was settled only by a hook in the process that took the phone's answer. Red-team
 * (processes): that process killed just after storing the approval (4 kills in 12 between 5 and
 * 60 ms after the answer), or one failed write while it settled, left the app polling
 * authorization_pending until the request expired while the phone said "approved". Now any poll
 * settles an answered request, and a settling that cannot finish gives a final answer.
 */
describe('CIBA: an answered request no process settled', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;
  let bob: CibaUser;
  let carol: CibaUser;

  beforeAll(async () => {
    w = await CibaWorld.start();
    rp = await w.rp();
    bob = await w.user('bob');
    carol = await w.user('carol');
  });
  afterAll(async () => {
    await w?.close();
  });

  it('an approval stored by a process that died before settling gives tokens at the next polls', async () => {
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'bob' });
    const push = await w.pushService.waitForMessage(bob.subscription.id);
    // What the phone's answer stores, and nothing after it: the process that took it is gone.
    const at = Date.now();
    expect(await w.t.idp.challenges.resolve(push.payload.cid, { status: 'approved', deviceId: bob.phone.deviceId, decision: 'approve', reason: null, amr: ['otp', 'swk'], at }, at)).toBe('resolved');
    const tokens = await oidc.pollBackchannelAuthenticationGrant(rp, started);
    expect(tokens.claims()?.sub).toBe(bob.accountId);
    expect(tokens.claims()?.amr).toEqual(['otp', 'swk']);
    // Answered within a few polls (interval 1 s), not at the request's expiry.
    expect(Date.now() - at).toBeLessThan(started.expires_in * 1000 / 2);
  });

  it('a settling that fails after it took the sign-in answers access_denied at once, not pending until expiry', async () => {
    await w.t.idp.db.query(`CREATE FUNCTION refuse_success() RETURNS trigger AS $$
      BEGIN IF NEW.type = 'signin.success' THEN RAISE EXCEPTION 'disk full (test)'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await w.t.idp.db.query('CREATE TRIGGER refuse_success BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_success()');
    try {
      const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'carol' });
      const push = await w.pushService.waitForMessage(carol.subscription.id);
      expect((await carol.phone.respond(push.payload.cid, 'approve')).status).toBe(200);
      const at = Date.now();
      const outcome = await oidc.pollBackchannelAuthenticationGrant(rp, started).then(() => 'tokens', (err: { error?: string }) => err.error);
      expect(outcome).toBe('access_denied');
      expect(Date.now() - at).toBeLessThan(started.expires_in * 1000 / 2);
    } finally {
      await w.t.idp.db.query('DROP TRIGGER refuse_success ON audit_events');
      await w.t.idp.db.query('DROP FUNCTION refuse_success()');
    }
  });
});
