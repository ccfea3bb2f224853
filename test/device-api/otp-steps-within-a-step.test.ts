import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TOTP_PERIOD_SECONDS, totpAt, totpStep } from '../../src/otp/totp.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { createAccount, openTestPostgres, type TestDb } from '../support/devices-fixtures.js';
import { manualClock, startDeviceApi, type DeviceApiHarness } from '../support/devices-api.js';

/**
 * docs/device-api.md section 4, `otp`: the server takes the code of its step T, T-1 or T+1, and only
 * a step above the device's last. Red-team (device API round): the page said a device answers
 * "at most twice" within one step, while three answers (the codes of T-1, T and T+1) are all taken.
 * The page now states the rule as the code applies it (src/otp/totp.ts matchTotp, the registry's
 * acceptAnswerStep); this pins it.
 */
const STEP_MS = TOTP_PERIOD_SECONDS * 1000;
const clock = manualClock();
let handle: TestDb;
let api: DeviceApiHarness;

beforeAll(async () => {
  handle = await openTestPostgres('otp_steps');
  api = await startDeviceApi(handle, clock);
});
afterAll(async () => { await api.close(); await handle.close(); });

describe('the TOTP steps of one device within one step of the server\'s clock', () => {
  it('takes the codes of T-1, T and T+1 once each, in that order; then only T+2, from the next step on', async () => {
    // The start of a step, so the test's answers all fall in it.
    clock.advance(STEP_MS - (clock.now() % STEP_MS));
    const accountId = await createAccount(handle.db, 'alice');
    const { code } = await api.codes.issue(accountId, 'test');
    const phone = await SimulatedAuthenticator.enroll(api.baseUrl, code, { now: clock.now, confirm: true });
    const T = totpStep(clock.now());
    const codeOf = (step: number) => totpAt(phone.totpSecret, step * STEP_MS);
    const answer = async (step: number) => {
      const ch = await api.challenge(accountId);
      const res = await phone.respond(ch.id, 'approve', { otp: codeOf(step) });
      return (res.body as { status?: string; error?: string }).error ?? (res.body as { status: string }).status;
    };

    expect([await answer(T - 1), await answer(T), await answer(T + 1)]).toEqual(['approved', 'approved', 'approved']);
    // A fourth answer in step T: every step in the drift is used (replayed, not counted), T+2 is outside it.
    expect([await answer(T + 1), await answer(T - 1), await answer(T + 2)]).toEqual(['otp_replayed', 'otp_replayed', 'invalid_otp']);
    expect(totpStep(clock.now())).toBe(T);

    clock.advance(STEP_MS);
    expect([await answer(T + 1), await answer(T + 2)]).toEqual(['otp_replayed', 'approved']);
  });
});
