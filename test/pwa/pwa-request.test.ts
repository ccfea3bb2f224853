import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, servePwa, type Browser, type Served } from '../support/browser.js';
import { createFakeDeviceApi, totpForStep, type FakeDevice, type FakeDeviceApi } from './fake-device-api.js';
import { enrollViaLink, eventually, storedAccounts } from './flows.js';

/**
 * The request page and the account's life: what asks to sign in, number matching (a wrong pick
 * denies), deny and report, expired and answered requests, poll mode, revocation, removal.
 */

let served: Served;
let api: FakeDeviceApi;
let phone: Browser;
let device: FakeDevice;

beforeAll(async () => {
  api = createFakeDeviceApi();
  api.policy.numberMatching = true;
  served = await servePwa(api.routes());
  api.issuer = served.origin;
  // No notification permission: the account is in poll mode.
  phone = await launchBrowser();
  device = await enrollViaLink(phone.page, api, 'acc-alice', { expectPush: /Notifications are off/ });
});

afterAll(async () => {
  await phone?.close();
  await served?.close();
});

const requestUrl = (cid: string, d = device) => `${served.origin}/pwa/?${new URLSearchParams({ request: cid, issuer: served.origin, device: d.id })}`;

describe('request page', () => {
  it('shows who asks, and with number matching three numbers: the right one approves', async () => {
    const { page } = phone;
    const c = api.createChallenge('acc-alice', { app: 'Payroll', ip: '198.51.100.4', browser: 'Firefox on Windows', numberMatching: true });
    await page.goto(requestUrl(c.id));
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Payroll');
    await page.getByText('198.51.100.4').waitFor();
    await page.getByText('Firefox on Windows').waitFor();
    const numbers = page.getByRole('group', { name: 'Choose the number shown on the sign-in screen' }).getByRole('button');
    await expect(numbers.allTextContents()).resolves.toEqual(c.numberChoices!.map(String));
    const approve = page.getByRole('button', { name: 'Approve' });
    await expect(approve.isDisabled()).resolves.toBe(true);

    await page.getByTestId(`number-${c.matchNumber}`).click();
    await expect(page.getByTestId(`number-${c.matchNumber}`).getAttribute('aria-pressed')).resolves.toBe('true');
    await approve.click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    const answer = api.answers.find((a) => a.cid === c.id)!;
    expect(answer).toMatchObject({ outcome: 'approved', claims: { decision: 'approve', number: c.matchNumber, nonce: c.nonce } });
    expect(answer.claims.otp).toBe(totpForStep(device.secret, answer.step));
  });

  it('a wrong number denies the sign-in and says so', async () => {
    const { page } = phone;
    const c = api.createChallenge('acc-alice', { numberMatching: true });
    const wrong = c.numberChoices!.find((n) => n !== c.matchNumber)!;
    await page.goto(requestUrl(c.id));
    await page.getByTestId(`number-${wrong}`).click();
    await page.getByTestId('approve').click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/not the one on the sign-in screen/);
    expect(api.answers.find((a) => a.cid === c.id)!.outcome).toBe('wrong_number');
  });

  it('Deny and report denies and reports', async () => {
    const { page } = phone;
    // Another account: alice's last two answers took both TOTP steps this app may use right now.
    const carol = await enrollViaLink(page, api, 'acc-bob');
    const c = api.createChallenge('acc-bob', { numberMatching: false });
    await page.goto(requestUrl(c.id, carol));
    await page.getByRole('button', { name: 'Deny and report' }).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/reported/);
    expect(api.answers.find((a) => a.cid === c.id)).toMatchObject({ outcome: 'reported', claims: { decision: 'report' } });
    expect(api.answers.find((a) => a.cid === c.id)!.claims).not.toHaveProperty('number');
  });

  it('a third answer within one 30 s step says it waits for the next passcode, then is accepted', async () => {
    const { page } = phone;
    const steps = api.answers.filter((a) => api.challenges.get(a.cid)!.accountId === 'acc-alice').map((a) => a.step);
    const c = api.createChallenge('acc-alice', { numberMatching: false });
    await page.goto(requestUrl(c.id));
    await page.getByTestId('deny').click();
    // alice answered twice just now (steps T and T+1) unless a step boundary fell in between.
    if (steps.length === 2 && steps[1] === steps[0]! + 1 && Math.floor(Date.now() / 30_000) < steps[1]!) {
      await expect(page.getByTestId('request-progress').textContent()).resolves.toMatch(/next one in \d+ s/);
    }
    await page.getByTestId('request-result').waitFor({ timeout: 35_000 });
    const answer = api.answers.find((a) => a.cid === c.id)!;
    expect(answer.outcome).toBe('denied');
    expect(answer.step).toBeGreaterThan(Math.max(...steps));
  }, 45_000);

  it('says when a request has expired, and offers no answer', async () => {
    const { page } = phone;
    const c = api.createChallenge('acc-alice', { ttlMs: 1 });
    await page.goto(requestUrl(c.id));
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/expired/);
    await expect(page.getByTestId('approve').count()).resolves.toBe(0);
  });

  it('says when a request was already answered', async () => {
    const { page } = phone;
    const c = api.createChallenge('acc-alice');
    c.status = 'approved';
    await page.goto(requestUrl(c.id));
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/already approved/);
  });

  it('says so for a request of an account that is not on this phone', async () => {
    const { page } = phone;
    await page.goto(requestUrl('nope', { ...device, id: 'dev_unknown' }));
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/not on this device/);
  });
});

describe('poll mode and the account’s life', () => {
  it('polls while open: a new request appears on the home screen and Review opens it', async () => {
    const { page } = phone;
    await page.goto(`${served.origin}/pwa/`);
    await expect(page.getByTestId('push-state').first().textContent()).resolves.toMatch(/Poll mode/);
    const c = api.createChallenge('acc-alice', { app: 'Git' });
    // policy.pollIntervalSeconds is 2 in the double.
    await page.getByTestId(`pending-${c.id}`).waitFor({ timeout: 5000 });
    await page.getByTestId(`pending-${c.id}`).getByRole('button', { name: 'Review' }).click();
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Git');
  });

  it('removing an account deletes its keys here and unregisters the device', async () => {
    const { page } = phone;
    const bob = await enrollViaLink(page, api, 'acc-bob');
    const before = await page.getByTestId('account').count();
    const card = page.locator(`[data-account="${served.origin} ${bob.id}"]`);
    await card.getByTestId('remove').click();
    await card.getByTestId('confirm-remove').click();
    await eventually(() => page.getByTestId('account').count(), (n) => n === before - 1);
    expect(bob.revoked).toBe(true);
    expect(api.log).toContainEqual({ method: 'DELETE', path: '/api/device', status: 200 });
    const stored = await storedAccounts(page);
    expect(stored.map((a) => a.deviceId)).not.toContain(bob.id);
    expect(stored.map((a) => a.deviceId)).toContain(device.id);
  });

  it('a device revoked at the IdP is told so and offered a new enrollment', async () => {
    const { page } = phone;
    device.revoked = true;
    await page.goto(`${served.origin}/pwa/`);
    const card = page.locator(`[data-account="${served.origin} ${device.id}"]`);
    await expect(card.getByRole('alert').textContent()).resolves.toMatch(/removed from your account by the sign-in server/);
    await card.getByRole('button', { name: 'Enroll again' }).click();
    await expect(page.getByTestId('issuer').inputValue()).resolves.toBe(served.origin);
    const stored = (await storedAccounts(page)).find((a) => a.deviceId === device.id);
    expect(stored!.revoked).toBe(true);
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
