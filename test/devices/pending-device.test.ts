import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createDeviceRegistry, PENDING_DEVICE_MINUTES } from '../../src/devices/registry.js';
import { createAccountStore } from '../../src/accounts/store.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * docs/device-api.md section 1b: a device counts once the phone's first signed request confirms it;
 * one that never does is, after PENDING_DEVICE_MINUTES, as if never enrolled. Asserted as the phone
 * and the sign-in see it: the device API's answers and the registry the sign-in reads.
 */
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;

beforeAll(async () => {
  handle = await openTestPostgres('pending');
  api = await startDeviceApi(handle, clock, { maxDevicesPerAccount: 1 });
});
afterAll(async () => {
  await api.close();
  await handle.close();
});

/** The database's clock decides the age of a pending device: move its enrollment into the past. */
async function age(deviceId: string, minutes: number) {
  await handle.db.query(`UPDATE devices SET created_at = now() - make_interval(mins => $2) WHERE id = $1`, [deviceId, minutes]);
}

describe('a device the phone never confirmed', () => {
  it('counts while young, so a phone asked at once works as before', async () => {
    const carol = await createAccount(handle.db, 'carol');
    const phone = await api.enroll(carol, 'Young phone');
    const registry = createDeviceRegistry(handle.db);
    expect(await registry.hasEverHad(carol)).toBe(true);
    expect(await registry.countActive(carol)).toBe(1);
    expect((await registry.get(phone.deviceId))!.lastUsedAt).toBeNull();
    // Its first signed request confirms it.
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
    expect((await registry.get(phone.deviceId))!.lastUsedAt).not.toBeNull();
    // Confirmed, it keeps counting however old its enrollment.
    await age(phone.deviceId, PENDING_DEVICE_MINUTES * 10);
    expect(await registry.hasEverHad(carol)).toBe(true);
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
  });

  it('stops counting once too old: no "ever had a device", no place under the cap, no late activation', async () => {
    const dan = await createAccount(handle.db, 'dan');
    const abandoned = await api.enroll(dan, 'Lost phone');
    const registry = createDeviceRegistry(handle.db);
    // The cap (1 here) is full while the first one may still confirm.
    const { code } = await api.codes.issue(dan, 'test');
    await expect(SimulatedAuthenticator.enroll(api.baseUrl, code, { name: 'Second', now: clock.now })).rejects.toMatchObject({ status: 409 });
    await age(abandoned.deviceId, PENDING_DEVICE_MINUTES + 1);
    expect(await registry.hasEverHad(dan)).toBe(false);
    expect(await registry.countActive(dan)).toBe(0);
    expect((await createAccountStore(handle.db).findForSignIn('dan')).account!.devices).toEqual({ active: 0, ever: 0 });
    expect(await registry.listByAccount(dan)).toEqual([]);
    expect(await registry.listPushTargets(dan)).toEqual([]);
    // The phone turning up late is an unknown device, and is not revived by trying.
    const late = await abandoned.request<{ error: string }>('GET', '/api/device/challenges');
    expect(late.status).toBe(401);
    expect(late.body.error).toBe('unknown_device');
    await registry.touch(abandoned.deviceId);
    expect(await registry.get(abandoned.deviceId)).toBeNull();
    // The user can enroll again with the code that was refused before.
    const again = await SimulatedAuthenticator.enroll(api.baseUrl, code, { name: 'New phone', now: clock.now });
    expect((await again.request('GET', '/api/device/challenges')).status).toBe(200);
    expect(await registry.hasEverHad(dan)).toBe(true);
  });
  // Found by a red-team run: someone with the password of an account that had no device enrolled a
  // phone and never confirmed it. Ten minutes later it was hidden from the user's list (nothing to
  // revoke) while its TOTP still passed the passcode check and its signed answers were still read:
  // a second factor only the attacker held, on an account whose owner had since enrolled her own.
  it('is hidden AND inert once too old: no passcode, no signed answer, no step accepted', async () => {
    const erin = await createAccount(handle.db, 'erin');
    const hidden = await api.enroll(erin, 'Attacker phone');
    await age(hidden.deviceId, PENDING_DEVICE_MINUTES + 1);
    const registry = createDeviceRegistry(handle.db);
    expect(await registry.listByAccount(erin)).toEqual([]);
    // The owner enrolls her own phone and confirms it.
    const { code } = await api.codes.issue(erin, 'test');
    const own = await SimulatedAuthenticator.enroll(api.baseUrl, code, { name: 'Erin phone', now: clock.now });
    expect((await own.request('GET', '/api/device/challenges')).status).toBe(200);
    // Typed passcodes (sign-in page, RADIUS, agent API) are checked against these: the hidden one is not among them.
    expect((await registry.listTotpCandidates(erin)).map((c) => c.id)).toEqual([own.deviceId]);
    expect(await registry.getForAnswer(hidden.deviceId)).toBeNull();
    expect(await registry.acceptOtpStep(hidden.deviceId, 10 ** 9)).toBe(false);
    expect(await registry.acceptAnswerStep(hidden.deviceId, 10 ** 9, new Date())).toBe(false);
    // A signed approval from it, for a challenge of the account, is refused and resolves nothing.
    const ch = await api.challenge(erin);
    const answer = await hidden.respond(ch.id, 'approve', { nonce: ch.nonce });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect((await api.challenges.get(ch.id, clock.now()))!.status).toBe('pending');
    // Still hidden, never revived by trying.
    expect(await registry.get(hidden.deviceId)).toBeNull();
    // The owner's phone approves as ever.
    expect((await own.respond(ch.id, 'approve')).status).toBe(200);
  });
});
