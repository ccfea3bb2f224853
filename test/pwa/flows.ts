import type { Page } from 'playwright-core';

/** What a user does in the PWA and at the relying app, step by step, for the browser tests. */

/** Polls `read` until `ok` holds (or throws after `timeoutMs`: room for a loaded CI machine), returning the last value. */
export async function eventually<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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

/** The demo app's page at /demo: Sign in, then the IdP's login page (returned once it shows). */
export async function openDemoSignIn(page: Page, issuer: string): Promise<void> {
  await page.goto(`${issuer}/demo`);
  await page.locator('#sign-in').click();
  await page.locator('#username').waitFor();
}

/** On the IdP's login page: username and password, Sign in. */
export async function typePassword(page: Page, username: string, password: string): Promise<void> {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** On the second-factor page: "Send a push to my phone"; returns the number to match (or null). */
export async function sendPushFromPage(page: Page): Promise<number | null> {
  await page.locator('#send-push').click();
  await page.getByRole('heading', { level: 1, name: 'Approve on your phone' }).waitFor();
  const match = page.locator('#match-number');
  return (await match.count()) ? Number(await match.textContent()) : null;
}

/** The demo app's signed-in page, reached by the waiting page on its own; returns the ID token's amr. */
export async function signedInAmr(page: Page, timeoutMs = 15_000): Promise<string> {
  await page.locator('#signed-in').waitFor({ timeout: timeoutMs });
  return (await page.locator('#amr').textContent())!.trim();
}
