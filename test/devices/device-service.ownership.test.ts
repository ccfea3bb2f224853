import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDeviceRegistry } from '../../src/devices/registry.js';
import { createDeviceService, type DeviceService } from '../../src/devices/service.js';
import { createAccount, fakePublicJwk, memoryAudit, openTestPglite, type TestDb } from '../support/devices-fixtures.js';

/**
 * Threat: the self-service page passes a device id from the browser. A user must never rename or
 * revoke another user's device by changing that id; the service answers such a device as absent.
 */
describe('device service', () => {
  const issuer = 'https://idp.example.test';
  let handle: TestDb;
  let service: DeviceService;
  let alice: string;
  let bob: string;
  let bobDevice: string;
  const audit = memoryAudit();

  beforeAll(async () => {
    handle = await openTestPglite();
    const devices = createDeviceRegistry(handle.db);
    service = createDeviceService({ devices, db: handle.db, issuer, audit });
    alice = await createAccount(handle.db, 'alice');
    bob = await createAccount(handle.db, 'bob');
    bobDevice = (await devices.create({ accountId: bob, name: 'Bob phone', publicJwk: await fakePublicJwk(), push: null, totpSecretSealed: 's' })).id;
  });
  afterAll(() => handle.close());

  it('issues an enrollment offer: code, PWA link with the issuer, expiry and a QR code as SVG', async () => {
    const offer = await service.issueEnrollment(alice, 'self-service');
    expect(offer.code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    expect(offer.url).toBe(`${issuer}/pwa/?enroll=${offer.code}&issuer=${encodeURIComponent(issuer)}`);
    expect(offer.expiresAt.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(offer.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // The code is a bearer secret: it never lands in the audit trail.
    expect(JSON.stringify(audit.events)).not.toContain(offer.code);
  });

  it('refuses an enrollment for an account that does not exist', async () => {
    await expect(service.issueEnrollment('acc_missing', 'admin')).rejects.toMatchObject({ code: 'account_not_found' });
  });

  it("answers another account's device as absent, and leaves it untouched", async () => {
    await expect(service.renameDevice(alice, bobDevice, 'mine now')).rejects.toMatchObject({ code: 'device_not_found', status: 404 });
    await expect(service.revokeDevice(alice, bobDevice)).rejects.toMatchObject({ code: 'device_not_found' });
    expect(await service.listDevices(alice)).toEqual([]);
    expect(await service.listDevices(bob)).toEqual([expect.objectContaining({ id: bobDevice, name: 'Bob phone', status: 'active' })]);
  });

  it('renames and revokes the owner\'s device', async () => {
    expect(await service.renameDevice(bob, bobDevice, '  Work phone ')).toMatchObject({ name: 'Work phone' });
    await expect(service.renameDevice(bob, bobDevice, 'x'.repeat(65))).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await service.revokeDevice(bob, bobDevice)).toMatchObject({ status: 'revoked' });
    expect(await service.revokeDevice(bob, bobDevice)).toMatchObject({ status: 'revoked' });
    expect(audit.events.filter((e) => e.type === 'device.revoked')).toHaveLength(1);
    await expect(service.renameDevice(bob, bobDevice, 'again')).rejects.toMatchObject({ code: 'device_revoked' });
  });
});
