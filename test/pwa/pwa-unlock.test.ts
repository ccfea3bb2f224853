import { createHash, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, servePwa, virtualAuthenticator, type Browser, type Served } from '../support/browser.js';
import { createFakeDeviceApi, totpForStep, webauthnChallengeFor, type FakeDevice, type FakeDeviceApi } from './fake-device-api.js';
import { enrollViaLink, shownCode, storedAccounts } from './flows.js';

/**
 * Unlock per server policy. 'pin': nothing readable is stored, nothing is shown or signed without
 * the PIN, and a wrong PIN opens nothing. 'webauthn': a user-verifying platform authenticator is
 * registered at enrollment and every answer carries an assertion bound to the request.
 */

let served: Served;
let api: FakeDeviceApi;

beforeAll(async () => {
  api = createFakeDeviceApi();
  served = await servePwa(api.routes());
  // WebAuthn refuses an IP address as relying-party id: this file talks to localhost.
  api.issuer = served.origin.replace('127.0.0.1', 'localhost');
});

afterAll(async () => {
  await served?.close();
});

const requestUrl = (cid: string, d: FakeDevice) => `${api.issuer}/pwa/?${new URLSearchParams({ request: cid, issuer: api.issuer, device: d.id })}`;

function inStep(secret: string, shown: { code: string; at: number }): boolean {
  const step = Math.floor(shown.at / 30_000);
  return [totpForStep(secret, step), totpForStep(secret, step - 1)].includes(shown.code);
}

describe("unlock policy 'pin'", () => {
  let phone: Browser;
  let device: FakeDevice;
  const PIN = '482916';

  beforeAll(async () => {
    api.policy.unlock = 'pin';
    phone = await launchBrowser();
    device = await enrollViaLink(phone.page, api, 'acc-alice', { pin: PIN });
  });

  afterAll(async () => {
    api.policy.unlock = 'none';
    await phone?.close();
  });

  it('stores only sealed keys: no CryptoKey and no readable secret in IndexedDB', async () => {
    const [stored] = await storedAccounts(phone.page);
    const json = JSON.stringify(stored);
    expect(stored!.secrets).toMatchObject({ kind: 'pin', iterations: expect.any(Number) });
    expect((stored!.secrets as { iterations: number }).iterations).toBeGreaterThanOrEqual(310_000);
    expect(json).not.toContain('"cryptoKey":true');
    expect(json).not.toContain(device.secret);
  });

  it('shows the passcode right after enrollment (the PIN was just typed)', async () => {
    expect(inStep(device.secret, await shownCode(phone.page))).toBe(true);
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
    expect(inStep(device.secret, await shownCode(page))).toBe(true);
  });

  it('asks the PIN before showing a request, then answers with the unsealed key', async () => {
    const { page } = phone;
    const c = api.createChallenge('acc-alice', { app: 'HR portal', numberMatching: false });
    await page.reload(); // locked again
    await page.goto(requestUrl(c.id, device));
    await page.getByTestId('pin-input').waitFor();
    await expect(page.getByText('HR portal').count()).resolves.toBe(0);
    const before = api.log.length;
    await page.getByTestId('pin-input').fill(PIN);
    await page.getByTestId('pin-submit').click();
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('HR portal');
    // Nothing reached the IdP before the PIN: the device-authenticated GET comes after it.
    expect(api.log.slice(before).map((l) => l.method)).toEqual(['GET']);
    await page.getByTestId('approve').click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    expect(api.answers.find((a) => a.cid === c.id)!.outcome).toBe('approved');
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});

describe("unlock policy 'webauthn'", () => {
  let phone: Browser;
  let device: FakeDevice;
  let authenticator: Awaited<ReturnType<typeof virtualAuthenticator>>;

  beforeAll(async () => {
    api.policy.unlock = 'webauthn';
    phone = await launchBrowser();
    await phone.page.goto(`${api.issuer}/pwa/`);
    authenticator = await virtualAuthenticator(phone.page);
    device = await enrollViaLink(phone.page, api, 'acc-bob', { unlock: 'webauthn' });
  });

  afterAll(async () => {
    api.policy.unlock = 'none';
    await phone?.close();
  });

  it('registers a platform credential at enrollment and sends its public key with the enrollment', async () => {
    expect(device.webauthn).toMatchObject({ credentialId: expect.stringMatching(/^[A-Za-z0-9_-]+$/), alg: -7 });
    const spki = Buffer.from(device.webauthn!.publicKeySpki, 'base64url');
    // A DER SubjectPublicKeyInfo for an EC P-256 key (id-ecPublicKey, prime256v1).
    expect(spki.includes(Buffer.from('2a8648ce3d0201', 'hex'))).toBe(true);
    expect(spki.includes(Buffer.from('2a8648ce3d030107', 'hex'))).toBe(true);
  });

  it('shows passcodes after the user is verified', async () => {
    const { page } = phone;
    await expect(page.getByTestId('code').count()).resolves.toBe(0);
    await page.getByTestId('verify').click();
    expect(inStep(device.secret, await shownCode(page))).toBe(true);
  });

  it('answers with an assertion over SHA-256(challenge id + nonce) that verifies with the enrolled key', async () => {
    const { page } = phone;
    const c = api.createChallenge('acc-bob', { numberMatching: false });
    await page.goto(requestUrl(c.id, device));
    await page.getByTestId('approve').click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    const { webauthn } = api.answers.find((a) => a.cid === c.id)!;
    expect(webauthn).toBeDefined();
    expect(webauthn!.credentialId).toBe(device.webauthn!.credentialId);
    const clientData = JSON.parse(Buffer.from(webauthn!.clientDataJSON!, 'base64url').toString('utf8')) as Record<string, string>;
    expect(clientData).toMatchObject({ type: 'webauthn.get', challenge: webauthnChallengeFor(c.id, c.nonce), origin: api.issuer });
    const authData = Buffer.from(webauthn!.authenticatorData!, 'base64url');
    expect(authData[32]! & 0x05).toBe(0x05); // user present and user verified
    const signed = Buffer.concat([authData, createHash('sha256').update(Buffer.from(webauthn!.clientDataJSON!, 'base64url')).digest()]);
    const key = { key: Buffer.from(device.webauthn!.publicKeySpki, 'base64url'), format: 'der' as const, type: 'spki' as const };
    expect(verify('sha256', signed, key, Buffer.from(webauthn!.signature!, 'base64url'))).toBe(true);
  });

  it('sends nothing when user verification fails', async () => {
    const { page } = phone;
    const c = api.createChallenge('acc-bob', { numberMatching: false });
    await authenticator.setUserVerified(false);
    try {
      await page.goto(requestUrl(c.id, device));
      await page.getByTestId('approve').click();
      await page.getByRole('alert').filter({ hasText: 'Verification was cancelled or failed' }).waitFor();
      expect(api.answers.some((a) => a.cid === c.id)).toBe(false);
      await expect(page.getByTestId('approve').isEnabled()).resolves.toBe(true);
    } finally {
      await authenticator.setUserVerified(true);
    }
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
