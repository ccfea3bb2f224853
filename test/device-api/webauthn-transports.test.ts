import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, TEST_ISSUER, type DeviceApiHarness } from '../support/devices-api.js';
import { SoftwareWebAuthn } from '../support/webauthn-authenticator.js';

/**
 * docs/device-api.md section 1, under DEVICE_UNLOCK=webauthn: the registration's
 * `response.transports` are stored with the credential (a jsonb column). Red-team (device API
 * round): a NUL or a lone surrogate there reached PostgreSQL, which refuses both in jsonb: a
 * 500 after the code had been checked. Now such a transport is `400 invalid_request`, nothing is
 * stored and the code stays usable; the transports browsers send are still taken and stored.
 */
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;
let users = 0;

beforeAll(async () => {
  handle = await openTestPostgres('wa_transports');
  api = await startDeviceApi(handle, clock, { policy: async () => ({ numberMatching: false, unlock: 'webauthn', pollIntervalSeconds: 5 }) });
});
afterAll(async () => { await api.close(); await handle.close(); });

async function accountWithCode() {
  const accountId = await createAccount(handle.db, `user${++users}`);
  const { code } = await api.codes.issue(accountId, 'test');
  return { accountId, code };
}

/** Enrolls through the ceremony of section 1a with `transports` in the registration; the answer as a client reads it. */
async function enrollWith(code: string, transports: unknown) {
  const sw = new SoftwareWebAuthn(TEST_ISSUER);
  return SimulatedAuthenticator.enroll(api.baseUrl, code, {
    now: clock.now,
    webauthn: {
      create: (options) => {
        const registration = sw.create(options);
        return { ...registration, response: { ...registration.response, transports } };
      },
    },
  }).then((phone) => ({ status: 201, phone, body: undefined as unknown }), (err: { status: number; body: unknown }) => ({ status: err.status, phone: null, body: err.body }));
}

/** What browsers report (W3C WebAuthn Level 3, 5.8.4, and "cable" of older ones). */
const BROWSER_TRANSPORTS = ['internal', 'hybrid', 'usb', 'nfc', 'ble', 'smart-card', 'cable'];

describe('the WebAuthn registration\'s transports', () => {
  it.each([
    ['a NUL', ['internal\u0000']],
    ['a lone surrogate', ['\ud800']],
    ['an upper-case word with a space', ['Internal ']],
  ])('holding %s: 400 invalid_request, no device; the code then enrolls with the transports browsers report', async (_what, transports) => {
    const { accountId, code } = await accountWithCode();
    expect(await enrollWith(code, transports)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await api.devices.listByAccount(accountId)).toEqual([]);
    expect((await enrollWith(code, BROWSER_TRANSPORTS)).status).toBe(201);
    const [device] = await api.devices.listByAccount(accountId);
    expect(device?.webauthn?.transports).toEqual(BROWSER_TRANSPORTS);
  });
});
