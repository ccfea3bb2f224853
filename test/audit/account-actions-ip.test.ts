import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { ACCOUNT_CLIENT_ID } from '../../src/selfservice/client-id.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/** A browser behind the reverse proxy: every request arrives with the address the proxy saw. */
class ProxiedBrowser extends FormBrowser {
  constructor(origin: string, private readonly clientIp: string) { super(origin); }
  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.clientIp);
    return super.request(url, { ...init, headers });
  }
}

/**
 * What is done on /account (a code for a new phone and its recovery codes, a rename, a revoke) is
 * in the audit trail with the address it was asked from and the app (the account page), the
 * address read as the edge reads it (TRUST_PROXY). Red-team (operator round): these rows had
 * neither, so after a takeover the trail did not say where the attacker's phone was added from.
 * The administrator's CLI has no address: its rows say so by `by` / `createdBy`, as before.
 */
describe('audit: /account actions carry the IP and the app', () => {
  let w: PushWorld;
  const rows = async (accountId: string) => w.t.idp.db.query<{ type: string; clientId: string | null; ip: string | null; detail: Record<string, unknown> }>(
    'SELECT type, client_id AS "clientId", ip, detail FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]);
  beforeAll(async () => { w = await PushWorld.start({ idp: { env: { TRUST_PROXY: 'true' } } }); });
  afterAll(() => w?.close());

  it('the enrollment code, its recovery codes, the rename and the revoke name the client behind the proxy and the account page', async () => {
    const username = 'proxied';
    const account = await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PushWorld.password) });
    const browser = new ProxiedBrowser(w.t.url, '198.51.100.23');
    const login = await browser.go('/account');
    const page = await browser.submit(login.body, /\/login$/, { username, password: PushWorld.password });
    expect(page.url).toBe(`${w.t.url}/account`);
    const offer = await browser.submit(page.body, '/account/enroll', {});
    const code = offer.body.match(/id="enroll-code">([^<]+)</)![1]!;
    const phone = await SimulatedAuthenticator.enroll(w.t.url, code, { name: 'Pixel' });

    const again = await browser.go('/account');
    const second = await browser.submit(again.body, /\/login$/, { username, password: PushWorld.password });
    const passcode = await browser.go(second.url.replace(/second-factor$/, 'passcode'));
    const inside = await browser.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(inside.url).toBe(`${w.t.url}/account`);
    const renamed = await browser.submit(inside.body, `/account/devices/${phone.deviceId}/rename`, { name: 'Renamed here' });
    expect(renamed.body).toContain('Renamed here');
    const revoked = await browser.submit(renamed.body, `/account/devices/${phone.deviceId}/revoke`, {});
    expect(revoked.url).toContain('/account/signed-out');

    const audit = await rows(account.id);
    const types = ['device.enroll_code.issued', 'recovery_codes.issued', 'device.renamed', 'device.revoked'];
    for (const type of types) {
      const found = audit.filter((r) => r.type === type);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ ip: '198.51.100.23', clientId: ACCOUNT_CLIENT_ID });
    }
    expect(audit.find((r) => r.type === 'device.renamed')!.detail).toMatchObject({ deviceId: phone.deviceId, name: 'Renamed here', by: 'account' });
    expect(audit.find((r) => r.type === 'device.revoked')!.detail).toMatchObject({ deviceId: phone.deviceId, by: 'account' });
    // The phone itself connected directly (no proxy in front of it in this test): its own address.
    expect(audit.find((r) => r.type === 'device.enrolled')!.ip).toBe('127.0.0.1');
  });

  it('the administrator\'s CLI calls still work and say who did it, with no address', async () => {
    const account = await w.t.idp.accounts.create({ username: 'by-admin', passwordHash: await hashPassword(PushWorld.password) });
    const offer = await w.t.idp.deviceService.issueEnrollment(account.id, 'admin');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { name: 'Desk phone' });
    await w.t.idp.deviceService.renameDevice(account.id, phone.deviceId, 'Front desk', 'admin-cli');
    await w.t.idp.deviceService.revokeDevice(account.id, phone.deviceId, 'admin-cli');

    const audit = await rows(account.id);
    const admin = audit.filter((r) => ['device.enroll_code.issued', 'recovery_codes.issued', 'device.renamed', 'device.revoked'].includes(r.type));
    expect(admin.map((r) => r.type)).toEqual(['device.enroll_code.issued', 'recovery_codes.issued', 'device.renamed', 'device.revoked']);
    for (const r of admin) expect(r).toMatchObject({ ip: null, clientId: null });
    expect(admin[0]!.detail).toMatchObject({ createdBy: 'admin' });
    expect(admin[2]!.detail).toMatchObject({ by: 'admin-cli', name: 'Front desk' });
    expect(admin[3]!.detail).toMatchObject({ by: 'admin-cli' });
  });
});
