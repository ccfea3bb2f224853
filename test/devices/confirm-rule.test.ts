import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWorld } from '../signin/helpers.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { newDeviceId } from '../../src/devices/registry.js';
import { addUser } from '../signin/helpers.js';

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
    // One code of /account at a time (only the newest works): the phone enrolls with the first, the tablet with the next.
    const c2 = await w.t.idp.deviceService.issueEnrollment(w.accountId, `self:${w.accountId}`);
    const phone = await SimulatedAuthenticator.enroll(w.t.url, c2.code, { name: 'phone' });
    await new Promise((r) => setTimeout(r, 20));
    const c3 = await w.t.idp.deviceService.issueEnrollment(w.accountId, `self:${w.accountId}`);
    const tablet = await SimulatedAuthenticator.enroll(w.t.url, c3.code, { name: 'tablet' });
    await tablet.pending(); // the tablet confirms first
    let status = 200;
    try { await phone.pending(); } catch (err) { status = (err as { status?: number }).status ?? 500; }
    expect(status).toBe(200);
  });

  // Red-team (independent authenticator): an answer confirms a pending device as its first signed
  // call does, but the answer's statement skipped confirm()'s rule. Unreachable through the API
  // today (the owner's first enrollment revokes such phones), so the rows are made directly.
  it('an answer cannot confirm a phone /account enrolled before the owner\'s first, once a newer one was confirmed; a later one it can', async () => {
    const accountId = await addUser(w, `confirm-rule-${Date.now()}`);
    const planted = newDeviceId();
    const owner = newDeviceId();
    const later = newDeviceId();
    const row = (id: string, by: string, age: string, confirmed: boolean) => w.t.idp.db.query(
      `INSERT INTO devices (id, account_id, name, public_jwk, totp_secret_enc, enrolled_by, created_at, last_used_at)
       VALUES ($1, $2, $1, '{}', 'x', $3, now() - $4::interval, ${confirmed ? 'now()' : 'NULL'})`, [id, accountId, by, age]);
    await row(planted, `self:${accountId}:sso-1`, '3 minutes', false);
    await row(owner, 'admin', '2 minutes', true);
    await row(later, `self:${accountId}:sso-2`, '1 minute', false);
    expect(await w.t.idp.devices.acceptAnswerStep(planted, 10 ** 9, new Date())).toBe(false);
    expect(await w.t.idp.devices.confirm(planted, new Date())).toBe(false);
    expect(await w.t.idp.devices.acceptAnswerStep(later, 10 ** 9, new Date())).toBe(true);
    expect((await w.t.idp.devices.get(later))!.lastUsedAt).not.toBeNull();
  });
});
