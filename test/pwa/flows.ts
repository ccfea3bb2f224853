import { expect } from '@jest/globals';
import type { Page } from 'playwright-core';
import type { FakeDeviceApi, FakeDevice } from './fake-device-api.js';

/** What a user does in the PWA, step by step, for the browser tests. */

/** Polls `read` until `ok` holds (or throws after `timeoutMs`), returning the last value. */
export async function eventually<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Opens the enrollment link, taps Add account, and returns the device the IdP registered. */
export async function enrollViaLink(page: Page, api: FakeDeviceApi, accountId: string, opts: { pin?: string; unlock?: string; expectPush?: RegExp } = {}): Promise<FakeDevice> {
  const before = new Set(api.devices.keys());
  const code = api.newCode(accountId);
  const query = new URLSearchParams({ enroll: code, issuer: api.issuer, ...(opts.unlock ? { unlock: opts.unlock } : {}) });
  await page.goto(`${api.issuer}/pwa/?${query}`);
  await page.getByTestId('enroll-submit').click();
  if (opts.pin) {
    await page.getByTestId('new-pin').fill(opts.pin);
    await page.getByTestId('new-pin-again').fill(opts.pin);
    await page.getByTestId('new-pin-submit').click();
  }
  await page.getByTestId('enroll-done').waitFor({ timeout: 20_000 }).catch(async (err) => {
    throw new Error(`${(err as Error).message}\nstatus: ${await page.getByTestId('enroll-status').textContent().catch(() => '?')}; error: ${await page.getByTestId('enroll-error').textContent().catch(() => '?')}`);
  });
  if (opts.expectPush) expect(await page.getByTestId('enroll-push').textContent()).toMatch(opts.expectPush);
  await page.getByTestId('enroll-finish').click();
  await page.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
  const added = [...api.devices.values()].filter((d) => !before.has(d.id));
  expect(added).toHaveLength(1);
  return added[0]!;
}

/** The passcode shown for the n-th account, with the page's clock at the moment it was read. */
export async function shownCode(page: Page, index = 0): Promise<{ code: string; at: number }> {
  const locator = page.getByTestId('code').nth(index);
  await locator.and(page.locator('[data-code]')).waitFor({ timeout: 5000 });
  return locator.evaluate((el) => ({ code: (el as HTMLElement).dataset.code!, at: Date.now() }));
}

/** The app's IndexedDB records, as structured-clone sees them (CryptoKeys reported by their flags). */
export async function storedAccounts(page: Page): Promise<Record<string, unknown>[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('pushotp-authenticator');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const all = await new Promise<unknown[]>((resolve, reject) => {
      const req = db.transaction('accounts').objectStore('accounts').getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    const describe = (value: unknown): unknown => {
      if (value instanceof CryptoKey) return { cryptoKey: true, type: value.type, extractable: value.extractable, algorithm: value.algorithm.name };
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return { bytes: (value as ArrayBuffer).byteLength };
      if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v)]));
      return value;
    };
    return all.map((a) => describe(a) as Record<string, unknown>);
  });
}
