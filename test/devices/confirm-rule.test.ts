import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWorld } from '../signin/helpers.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';

/**
 * Red-team finding (fixed; availability). confirm() refused a pending phone /account enrolled once
 * any device created after it was confirmed, even when the account already had a confirmed phone
 * when it was enrolled (the rule's reason, a phone planted before the owner's first one, does not
 * apply): a user adding two phones from /account, the second confirming first, got the first refused.
 */
describe('the confirm rule and the owner\'s own later phones', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('a phone enrolled from /account while a confirmed phone already exists is confirmed whatever order the phones call in', async () => {
    const first = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(w.accountId, 'admin')).code, { name: 'first' });
    await first.pending(); // confirmed
    const c2 = await w.t.idp.deviceService.issueEnrollment(w.accountId, `self:${w.accountId}`);
    const c3 = await w.t.idp.deviceService.issueEnrollment(w.accountId, `self:${w.accountId}`);
    const phone = await SimulatedAuthenticator.enroll(w.t.url, c2.code, { name: 'phone' });
    await new Promise((r) => setTimeout(r, 20));
    const tablet = await SimulatedAuthenticator.enroll(w.t.url, c3.code, { name: 'tablet' });
    await tablet.pending(); // the tablet confirms first
    let status = 200;
    try { await phone.pending(); } catch (err) { status = (err as { status?: number }).status ?? 500; }
    expect(status).toBe(200);
  });
});
