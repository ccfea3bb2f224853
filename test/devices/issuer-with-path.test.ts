import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * Audit item 11: for an issuer with a path (https://example.test/idp, served behind a proxy that
 * strips /idp), a device signs `aud` = `{issuer}/api/device` and `htu` = the path it requested,
 * /idp/api/device/..., as the PWA does (new URL(url).pathname). The server compared `htu` with the
 * path after the proxy, so such a device could never authenticate.
 */
const ISSUER = 'https://example.test/idp';
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;
let phone: SimulatedAuthenticator;

beforeAll(async () => {
  handle = await openTestPostgres('issuerpath');
  api = await startDeviceApi(handle, clock, { issuer: ISSUER });
  phone = await api.enroll(await createAccount(handle.db, 'alice'));
});
afterAll(async () => {
  await api.close();
  await handle.close();
});

async function get(htu: string, aud?: string) {
  const authorization = await phone.authHeader('GET', htu, aud === undefined ? {} : { aud });
  const res = await fetch(`${api.baseUrl}/api/device/challenges`, { headers: { authorization } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('an issuer with a path', () => {
  it('the enrollment answer names it, and aud carries it', async () => {
    expect(phone.enrollment!.issuer).toBe(ISSUER);
    expect(await get('/idp/api/device/challenges', 'https://example.test/api/device')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('htu is the path the device requested, the issuer path included', async () => {
    expect(await get('/idp/api/device/challenges')).toMatchObject({ status: 200, body: { challenges: [] } });
    expect(await get('/api/device/challenges')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });
});
