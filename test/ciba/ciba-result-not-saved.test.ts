import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { CibaWorld, type CibaUser } from './world.js';

/**
 * When the approved result cannot be stored (here PostgreSQL itself refuses the grant, by a trigger
 * in this IdP's own schema), the client must get a final answer, not authorization_pending until
 * the request expires: the phone was told 'approved' and nothing would ever come.
 */
describe('CIBA: an approval whose grant cannot be stored', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;
  let bob: CibaUser;

  beforeAll(async () => {
    w = await CibaWorld.start();
    rp = await w.rp();
    bob = await w.user('bob');
  });
  afterAll(async () => {
    await w?.close();
  });

  it('ends in access_denied for the polling client, and tokens are never issued', async () => {
    await w.t.idp.db.query(`CREATE FUNCTION refuse_grants() RETURNS trigger AS $$
      BEGIN IF NEW.model = 'Grant' THEN RAISE EXCEPTION 'no space left on device (test)'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await w.t.idp.db.query('CREATE TRIGGER refuse_grants BEFORE INSERT OR UPDATE ON oidc_payloads FOR EACH ROW EXECUTE FUNCTION refuse_grants()');
    try {
      const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'bob' });
      const push = await w.pushService.waitForMessage(bob.subscription.id);
      expect((await bob.phone.respond(push.payload.cid, 'approve')).status).toBe(200);
      const at = Date.now();
      const outcome = await oidc.pollBackchannelAuthenticationGrant(rp, started).then(() => 'tokens', (err: { error?: string }) => err.error);
      expect(outcome).toBe('access_denied');
      // Answered within a few polls (interval 1 s), not at the request's expiry.
      expect(Date.now() - at).toBeLessThan(started.expires_in * 1000 / 2);
    } finally {
      await w.t.idp.db.query('DROP TRIGGER refuse_grants ON oidc_payloads');
      await w.t.idp.db.query('DROP FUNCTION refuse_grants()');
    }
  });
});
