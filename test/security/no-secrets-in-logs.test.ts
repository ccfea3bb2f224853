import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';

/**
 * Logs and the audit trail are read by many people: a password, a passcode, a TOTP secret, an
 * enrollment code or a client secret must never appear in them. This drives every kind of sign-in
 * with debug logging on and scans everything that was written.
 */
describe('no secret in any log line or audit event', () => {
  let w: PushWorld;
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  const secrets: string[] = [PushWorld.password, 'test-rp-secret-0123456789abcdef0123456789'];

  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres', idp: { logger: createLogger('debug', sink) } } }); });
  afterAll(() => w.close());

  it('holds after enrollment, push, passcode and failed attempts', async () => {
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    secrets.push(offer.code);
    const { phone, subscription } = await w.enrollPhone();
    secrets.push(phone.totpSecret);

    const bad = await w.startSignIn({ password: 'a wrong password 42' });
    expect(bad.next.res.status).toBe(401);
    secrets.push('a wrong password 42');

    const push = await w.startSignIn();
    const wait = await push.browser.submit(push.next.body, /\/push$/, {});
    const msg = await w.pushService.waitForMessage(subscription!.id);
    const cid = (msg.payload as { cid: string }).cid;
    const nonce = (await phone.challenge(cid)).nonce;
    secrets.push(nonce);
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    await push.browser.go(`/interaction/${push.uid}/wait`);

    const typed = await w.startSignIn();
    const page = await typed.browser.go(`/interaction/${typed.uid}/passcode`);
    const wrong = phone.currentTotp() === '000000' ? '111111' : '000000';
    secrets.push(wrong);
    await typed.browser.submit(page.body, /\/passcode$/, { passcode: wrong });
    const code = phone.currentTotp();
    await typed.browser.submit(page.body, /\/passcode$/, { passcode: code });
    secrets.push(code);

    const audit = await w.t.idp.db.query<{ type: string; detail: unknown }>('SELECT type, detail FROM audit_events');
    expect(audit.map((a) => a.type)).toEqual(expect.arrayContaining(['signin.failure', 'push.sent', 'push.approved', 'signin.success', 'device.enrolled']));
    expect(lines.length).toBeGreaterThan(5);
    const everything = lines.join('\n') + '\n' + JSON.stringify(audit);
    for (const secret of secrets) expect({ secret, found: everything.includes(secret) }).toEqual({ secret, found: false });
  });
});
