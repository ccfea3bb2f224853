import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Request } from 'playwright-core';
import { launchBrowser, virtualAuthenticator, type Browser } from '../support/browser.js';
import type { PushWorld } from '../support/push-world.js';
import { shownCode, storedAccounts } from './flows.js';
import { challengeAt, deviceRow, enrollFromLink, enrollmentExchange, finishAtRp, isCodeOf, pushSignIn, startPwaWorld, type Enrolled } from './world.js';

/**
 * Unlock per server policy (DEVICE_UNLOCK), against the real IdP. 'pin': nothing readable is
 * stored, nothing is shown or signed without the PIN, and a wrong PIN opens nothing. 'webauthn': a
 * user-verifying platform authenticator (Chromium's virtual one) is registered at enrollment, its
 * key goes to the IdP, and every approval carries an assertion bound to the request, which the IdP
 * checks; the relying app's tokens then say `user`.
 */

/** Device-API calls the page makes, in order (method and path). */
function recordDeviceApi(page: Browser['page']): { calls: string[]; stop(): void } {
  const calls: string[] = [];
  const listener = (req: Request) => {
    const url = new URL(req.url());
    if (url.pathname.startsWith('/api/device')) calls.push(`${req.method()} ${url.pathname}`);
  };
  page.on('request', listener);
  return { calls, stop: () => page.off('request', listener) };
}

describe("unlock policy 'pin'", () => {
  let w: PushWorld;
  let phone: Browser;
  let device: Enrolled;
  const PIN = '482916';

  beforeAll(async () => {
    w = await startPwaWorld({ env: { DEVICE_UNLOCK: 'pin' } });
    phone = await launchBrowser();
    device = await enrollFromLink(phone.page, w, { pin: PIN });
  }, 60_000);

  afterAll(async () => {
    await phone?.close();
    await w?.close();
  });

  it('the IdP’s policy says pin; the app stores only sealed keys: no CryptoKey and no readable secret', async () => {
    expect(device.response.policy.unlock).toBe('pin');
    expect((await deviceRow(w, device.deviceId)).unlock).toBe('pin');
    const [stored] = await storedAccounts(phone.page);
    const json = JSON.stringify(stored);
    expect(stored!.secrets).toMatchObject({ kind: 'pin', iterations: expect.any(Number) });
    expect((stored!.secrets as { iterations: number }).iterations).toBeGreaterThanOrEqual(310_000);
    expect(json).not.toContain('"cryptoKey":true');
    expect(json).not.toContain(device.secret);
  });

  it('shows the passcode right after enrollment (the PIN was just typed)', async () => {
    expect(isCodeOf(device.secret, await shownCode(phone.page))).toBe(true);
  });

  it('after a restart shows no passcode until the PIN is entered; a wrong PIN opens nothing', async () => {
    const { page } = phone;
    await page.reload();
    await page.getByTestId('pin-input').waitFor();
    await expect(page.getByTestId('code').count()).resolves.toBe(0);
    await page.getByTestId('pin-input').fill('000000');
    await page.getByTestId('pin-submit').click();
    await page.getByRole('alert').filter({ hasText: 'Wrong PIN' }).waitFor();
    await expect(page.getByTestId('code').count()).resolves.toBe(0);
    await page.getByTestId('pin-input').fill(PIN);
    await page.getByTestId('pin-submit').click();
    expect(isCodeOf(device.secret, await shownCode(page))).toBe(true);
  });

  it('asks the PIN before showing a request, then answers with the unsealed key, and the user is signed in', async () => {
    const { page } = phone;
    const s = await pushSignIn(w);
    await page.reload(); // locked again
    const api = recordDeviceApi(page);
    await page.goto(`${w.t.url}/pwa/?${new URLSearchParams({ request: s.cid, issuer: w.t.url, device: device.deviceId })}`);
    await page.getByTestId('pin-input').waitFor();
    await expect(page.getByText('Test RP').count()).resolves.toBe(0);
    // Nothing reached the IdP before the PIN: the device key is sealed under it.
    expect(api.calls).toEqual([]);
    await page.getByTestId('pin-input').fill(PIN);
    await page.getByTestId('pin-submit').click();
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Test RP');
    expect(api.calls).toEqual([`GET /api/device/challenges/${s.cid}`]);
    await page.getByTestId(`number-${s.number}`).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    api.stop();
    expect((await finishAtRp(w, s)).amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
  });

  // Red-team (PWA): the wait was checked against the account the form was drawn with, which always
  // said no failures: eight wrong PINs in one open form met no wait, and the right PIN then left the
  // stored count in place, locking its user out after a reload.
  it('wrong PINs typed in one open form meet the growing wait; the right PIN after the wait clears the stored count', async () => {
    const { page } = phone;
    await page.goto(`${w.t.url}/pwa/`);
    await page.getByTestId('pin-input').waitFor();
    const stored = async () => (await storedAccounts(page))[0]!.secrets as { failures: number; retryAfter: number };
    for (let i = 0; i < 5; i++) {
      await page.getByTestId('pin-input').fill(String(100000 + i));
      await page.getByTestId('pin-submit').click();
      await page.waitForFunction((n) => (document.querySelector('[data-testid="pin-submit"]') as HTMLButtonElement).disabled === false, i);
      await page.waitForFunction(async (n) => {
        const db = await new Promise<IDBDatabase>((r) => { const q = indexedDB.open('pushotp-authenticator'); q.onsuccess = () => r(q.result); });
        const all = await new Promise<{ secrets: { failures: number } }[]>((r) => { const q = db.transaction('accounts').objectStore('accounts').getAll(); q.onsuccess = () => r(q.result); });
        db.close();
        return all[0]!.secrets.failures === n;
      }, i + 1);
    }
    expect((await stored()).retryAfter).toBeGreaterThan(Date.now());
    // The same form, the right PIN: refused for the wait, nothing shown.
    await page.getByTestId('pin-input').fill(PIN);
    await page.getByTestId('pin-submit').click();
    await page.getByRole('alert').filter({ hasText: 'Too many wrong PINs' }).waitFor();
    await expect(page.getByTestId('code').count()).resolves.toBe(0);
    expect((await stored()).failures).toBe(5);

    // The wait over (moved into the past in the store), the right PIN opens the keys and the count starts afresh.
    await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((r) => { const q = indexedDB.open('pushotp-authenticator'); q.onsuccess = () => r(q.result); });
      const store = db.transaction('accounts', 'readwrite').objectStore('accounts');
      const all = await new Promise<{ secrets: { retryAfter: number } }[]>((r) => { const q = store.getAll(); q.onsuccess = () => r(q.result); });
      all[0]!.secrets.retryAfter = Date.now() - 1;
      await new Promise((r) => { const q = store.put(all[0]); q.onsuccess = r; });
      db.close();
    });
    await page.getByTestId('pin-input').fill(PIN);
    await page.getByTestId('pin-submit').click();
    expect(isCodeOf(device.secret, await shownCode(page))).toBe(true);
    expect(await stored()).toMatchObject({ failures: 0, retryAfter: 0 });
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});

describe("unlock policy 'webauthn'", () => {
  let w: PushWorld;
  let phone: Browser;
  let device: Enrolled;
  let authenticator: Awaited<ReturnType<typeof virtualAuthenticator>>;

  beforeAll(async () => {
    // WebAuthn refuses an IP address as relying-party id: this IdP is http://localhost:<port>.
    w = await startPwaWorld({ localhost: true, env: { DEVICE_UNLOCK: 'webauthn' } });
    phone = await launchBrowser();
    await phone.page.goto(`${w.t.url}/pwa/`);
    authenticator = await virtualAuthenticator(phone.page);
    device = await enrollFromLink(phone.page, w);
  }, 60_000);

  afterAll(async () => {
    await phone?.close();
    await w?.close();
  });

  it('runs the registration ceremony from the link’s hint; the IdP verifies it and keeps the credential', async () => {
    expect(new URL(w.t.url).hostname).toBe('localhost');
    // The app sends the RegistrationResponseJSON of a ceremony run with the IdP's options (section 1a).
    const sent = device.request.webauthn as { id: string; rawId: string; type: string; response: { clientDataJSON: string; attestationObject: string } };
    expect(sent).toMatchObject({ id: expect.stringMatching(/^[A-Za-z0-9_-]+$/), type: 'public-key' });
    const clientData = JSON.parse(Buffer.from(sent.response.clientDataJSON, 'base64url').toString('utf8')) as { type: string; origin: string };
    expect(clientData).toMatchObject({ type: 'webauthn.create', origin: new URL(w.t.url).origin });
    const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId });
    expect(credentials.map((c) => Buffer.from(c.credentialId, 'base64').toString('base64url'))).toContain(sent.id);
    const row = await deviceRow(w, device.deviceId);
    expect(row).toMatchObject({ unlock: 'webauthn', webauthn: { credentialId: sent.id, backupEligible: false } });
    // The COSE key the IdP stored is the authenticator's P-256 key (RFC 9053 7.1: kty EC2, crv P-256).
    const cose = Buffer.from((row.webauthn as { publicKey: string }).publicKey, 'base64url');
    expect(cose.length).toBeGreaterThan(64);
  });

  it('without the hint in the link the IdP refuses the enrollment (webauthn_required), and the app says so', async () => {
    const { page } = phone;
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    await page.goto(offer.url.replace('&unlock=webauthn', ''));
    const exchange = enrollmentExchange(page);
    await page.getByTestId('enroll-submit').click();
    const { request, status, response } = await exchange;
    expect(request).not.toHaveProperty('webauthn');
    expect(status).toBe(400);
    expect(response).toMatchObject({ error: 'webauthn_required' });
    await page.getByTestId('enroll-error').filter({ hasText: /refused the enrollment \(webauthn_required/ }).waitFor(); // filled in once the IdP answers
    expect(await w.t.idp.deviceService.listDevices(w.accountId)).toHaveLength(1);
  });

  it('shows passcodes after the user is verified', async () => {
    const { page } = phone;
    await page.goto(`${w.t.url}/pwa/`);
    await page.getByTestId('verify').waitFor();
    await expect(page.getByTestId('code').count()).resolves.toBe(0);
    await page.getByTestId('verify').click();
    expect(isCodeOf(device.secret, await shownCode(page))).toBe(true);
  });

  it('sends nothing when user verification fails, and the request stays open', async () => {
    const { page } = phone;
    const s = await pushSignIn(w);
    await authenticator.setUserVerified(false);
    try {
      await page.goto(`${w.t.url}/pwa/?${new URLSearchParams({ request: s.cid, issuer: w.t.url, device: device.deviceId })}`);
      await page.getByTestId(`number-${s.number}`).waitFor();
      const api = recordDeviceApi(page);
      await page.getByTestId(`number-${s.number}`).click();
      await page.getByRole('alert').filter({ hasText: 'Verification was cancelled or failed' }).waitFor();
      api.stop();
      expect(api.calls).toEqual([]);
      expect((await challengeAt(w, s.cid)).status).toBe('pending');
      // Still answerable once the user is verified.
      await expect(page.getByTestId(`number-${s.number}`).isEnabled()).resolves.toBe(true);
    } finally {
      await authenticator.setUserVerified(true);
    }
  });

  it('approves with an assertion bound to the request; the IdP verifies it and the tokens say user', async () => {
    const { page } = phone;
    const s = await pushSignIn(w);
    await page.goto(`${w.t.url}/pwa/?${new URLSearchParams({ request: s.cid, issuer: w.t.url, device: device.deviceId })}`);
    const posted = page.waitForRequest((req) => req.url().endsWith(`/challenges/${s.cid}/response`));
    await page.getByTestId(`number-${s.number}`).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    const body = (await posted).postDataJSON() as { webauthn?: { id: string } };
    expect(body.webauthn?.id).toBe((device.request.webauthn as { id: string }).id);
    // The virtual authenticator counts its signatures: the IdP stored the count it saw.
    expect(((await deviceRow(w, device.deviceId)).webauthn as { counter: number }).counter).toBeGreaterThan(0);
    expect((await challengeAt(w, s.cid)).resolution?.amr).toEqual(['otp', 'swk', 'user']);
    expect((await finishAtRp(w, s)).amr).toEqual(['pwd', 'otp', 'swk', 'user', 'mfa']);
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
