import { afterAll, describe, expect, it } from '@jest/globals';
import { createDeviceRegistry } from '../../src/devices/registry.js';
import { TEST_ENGINES, createAccount, fakePublicJwk, type TestDb } from '../support/devices-fixtures.js';

/**
 * Threat: one TOTP replayed in parallel, e.g. 50 copies of a captured answer fired at once. RFC 6238
 * 5.2 accepts a step once per device; the registry's compare-and-set is what makes that hold
 * across connections and IdP instances.
 */
describe.each(TEST_ENGINES)('TOTP step acceptance on %s', (_engine, open) => {
  const handles: TestDb[] = [];
  afterAll(async () => { for (const h of handles) await h.close(); });

  async function setup() {
    const handle = await open();
    handles.push(handle);
    const devices = createDeviceRegistry(handle.db);
    const account = await createAccount(handle.db, 'racer');
    const device = await devices.create({ accountId: account, name: 'p', publicJwk: await fakePublicJwk(), push: null, totpSecretSealed: 's' });
    return { devices, device };
  }

  it('gives true to exactly one of 30 concurrent callers with the same step', async () => {
    const { devices, device } = await setup();
    const step = Math.floor(Date.now() / 30_000);
    const results = await Promise.all(Array.from({ length: 30 }, () => devices.acceptOtpStep(device.id, step)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await devices.get(device.id))!.lastOtpStep).toBe(step);
  });

  it('never moves backwards when steps race in any order', async () => {
    const { devices, device } = await setup();
    const base = Math.floor(Date.now() / 30_000);
    const steps = Array.from({ length: 20 }, (_, i) => base + ((i * 7) % 20));
    await Promise.all(steps.map((s) => devices.acceptOtpStep(device.id, s)));
    expect((await devices.get(device.id))!.lastOtpStep).toBe(base + 19);
    expect(await devices.acceptOtpStep(device.id, base + 19)).toBe(false);
  });

  it('keeps the answer counter apart: a step a device sent itself is taken once among those, and once more typed', async () => {
    const { devices, device } = await setup();
    const step = Math.floor(Date.now() / 30_000);
    const answers = await Promise.all(Array.from({ length: 30 }, () => devices.acceptAnswerStep(device.id, step)));
    expect(answers.filter(Boolean)).toHaveLength(1);
    const typed = await Promise.all(Array.from({ length: 30 }, () => devices.acceptOtpStep(device.id, step)));
    expect(typed.filter(Boolean)).toHaveLength(1);
    expect(await devices.get(device.id)).toMatchObject({ lastAnswerStep: step, lastOtpStep: step });
  });
});
