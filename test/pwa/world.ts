import { expect } from '@jest/globals';
import type { Page } from 'playwright-core';
import { hashPassword } from '../../src/accounts/passwords.js';
import type { Challenge } from '../../src/challenge/types.js';
import type { Device } from '../../src/devices/types.js';
import { totpAt } from '../../src/otp/totp.js';
import { auditEvents, pushStatus, sendPush, type AuditRow, type PushStatus } from '../signin/helpers.js';
import type { EnrollResponse } from '../support/authenticator.js';
import { ensurePwaBuilt, pushSubscriptionDouble } from '../support/browser.js';
import { freePort } from '../support/idp.js';
import type { MintedSubscription, ReceivedMessage } from '../support/push-service.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { eventually } from './flows.js';

/**
 * The PWA's tests run against the real IdP (PushWorld: the IdP on PostgreSQL and Redis, the local
 * push-service double, openid-client as the relying app). These helpers do what a test needs on
 * the server's side: issue enrollment links, make users, start sign-ins that send real pushes, and
 * read back what the IdP decided. What the phone sent is judged only by what the IdP made of it.
 */

export interface PwaWorldOptions {
  /** The test RP's login settings, e.g. `{ numberMatching: false }`. */
  login?: Record<string, unknown>;
  env?: Record<string, string>;
  /** WebAuthn refuses IP-address hosts: serve the IdP as http://localhost:<port>. */
  localhost?: boolean;
}

/**
 * Push-fatigue limits off (a file sends many pushes to few accounts; the defence has its own
 * tests in test/signin) and a 2 s poll interval. A test that wants a default passes it in `env`.
 */
const TEST_ENV: Record<string, string> = {
  PUSH_LIMIT: '100',
  PUSH_FORCE_MATCH_AFTER: '100',
  PUSH_MUTE_AFTER_REPORT: '0',
  POLL_INTERVAL: '2',
};

export async function startPwaWorld(opts: PwaWorldOptions = {}): Promise<PushWorld> {
  ensurePwaBuilt();
  const port = opts.localhost ? await freePort() : undefined;
  return PushWorld.start({
    ...(opts.login ? { login: opts.login } : {}),
    idp: {
      storage: 'postgres',
      ...(port ? { port } : {}),
      env: { ...TEST_ENV, ...(port ? { ISSUER: `http://localhost:${port}` } : {}), ...opts.env },
    },
  });
}

export interface User {
  id: string;
  username: string;
  displayName: string;
}

let passwordHash: Promise<string> | null = null;
let users = 0;

/** A new user with PushWorld's password (argon2 once per file), so tests do not share TOTP steps. */
export async function newUser(w: PushWorld, displayName?: string): Promise<User> {
  passwordHash ??= hashPassword(PushWorld.password);
  const username = `user${++users}-${Math.random().toString(36).slice(2, 6)}`;
  const account = await w.t.idp.accounts.create({ username, displayName: displayName ?? username, passwordHash: await passwordHash });
  return { id: account.id, username, displayName: displayName ?? username };
}

export const alice = (w: PushWorld): User => ({ id: w.accountId, username: 'alice', displayName: 'Alice' });

/** A subscription made by the push-service double, and the init script that hands it to the phone. */
export function phoneSubscription(w: PushWorld): { subscription: MintedSubscription; initScript: string } {
  const subscription = w.pushService.createSubscription();
  return { subscription, initScript: pushSubscriptionDouble({ endpoint: subscription.endpoint, keys: subscription.keys }) };
}

export interface Enrolled {
  deviceId: string;
  /** The TOTP secret as the IdP sent it to the phone (read off the wire, base32). */
  secret: string;
  /** The IndexedDB key of the account: issuer + " " + device id. */
  key: string;
  issuer: string;
  /** What the phone POSTed to /api/device/enroll, and what the IdP answered. */
  request: Record<string, unknown>;
  response: EnrollResponse;
}

/** Waits for the app's enrollment call and reads both sides of it. */
export function enrollmentExchange(page: Page): Promise<{ request: Record<string, unknown>; response: EnrollResponse; status: number }> {
  return page
    .waitForResponse((res) => new URL(res.url()).pathname === '/api/device/enroll' && res.request().method() === 'POST', { timeout: 30_000 })
    .then(async (res) => ({ request: res.request().postDataJSON() as Record<string, unknown>, response: (await res.json()) as EnrollResponse, status: res.status() }));
}

/**
 * The user's enrollment link, issued by the IdP (what the QR code on the account page holds),
 * opened on the phone: Add account, a PIN if the policy asks, Done. Returns the device the IdP
 * registered. `link` may rewrite the URL (e.g. drop the unlock hint).
 */
export async function enrollFromLink(
  page: Page,
  w: PushWorld,
  opts: { user?: User; pin?: string; expectPush?: RegExp; link?: (url: string) => string } = {},
): Promise<Enrolled> {
  const offer = await w.t.idp.deviceService.issueEnrollment(opts.user?.id ?? w.accountId, 'test');
  await page.goto(opts.link ? opts.link(offer.url) : offer.url);
  const exchange = enrollmentExchange(page);
  await page.getByTestId('enroll-submit').click();
  if (opts.pin) {
    await page.getByTestId('new-pin').fill(opts.pin);
    await page.getByTestId('new-pin-again').fill(opts.pin);
    await page.getByTestId('new-pin-submit').click();
  }
  await page.getByTestId('enroll-done').waitFor({ timeout: 30_000 }).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}\nstatus: ${await page.getByTestId('enroll-status').textContent().catch(() => '?')}; error: ${await page.getByTestId('enroll-error').textContent().catch(() => '?')}`);
  });
  if (opts.expectPush) expect(await page.getByTestId('enroll-push').textContent()).toMatch(opts.expectPush);
  const { request, response, status } = await exchange;
  expect(status).toBe(201);
  await page.getByTestId('enroll-finish').click();
  await page.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
  const device = await w.t.idp.devices.get(response.deviceId);
  expect(device).toMatchObject({ status: 'active', accountId: opts.user?.id ?? w.accountId });
  return { deviceId: response.deviceId, secret: response.totp.secret, key: `${response.issuer} ${response.deviceId}`, issuer: response.issuer, request, response };
}

/** The device as the IdP has it now. */
export async function deviceRow(w: PushWorld, deviceId: string): Promise<Device> {
  const device = await w.t.idp.devices.get(deviceId);
  if (!device) throw new Error(`no device ${deviceId}`);
  return device;
}

/** Whether `shown` (read at `shown.at`) is the RFC 6238 code of `secret`, computed here in Node. */
export function isCodeOf(secret: string, shown: { code: string; at: number }): boolean {
  // The code is computed when the step starts; read right at a boundary it may be the previous one.
  return [totpAt(secret, shown.at), totpAt(secret, shown.at - 30_000)].includes(shown.code);
}

export interface PushSignIn {
  browser: FormBrowser;
  uid: string;
  verifier: string;
  state: string;
  /** The number on the waiting page (null without number matching). */
  number: number | null;
  /** The challenge id (as the phone sees it). */
  cid: string;
  /** The waiting page the user sees. */
  waitPage: string;
}

/**
 * The user at the test RP (openid-client; no JavaScript): password, then "Send a push to my
 * phone". Returns the waiting page's number and the challenge the IdP created for it.
 */
export async function pushSignIn(w: PushWorld, user: User = alice(w)): Promise<PushSignIn> {
  const { browser, next, uid, verifier, state } = await w.startSignIn({ username: user.username });
  const wait = await sendPush(browser, next.body);
  expect(wait.url).toMatch(/\/wait$/);
  const [challenge] = await w.t.idp.challenges.listPending(user.id);
  if (!challenge || challenge.signInId !== uid) throw new Error('the IdP made no challenge for this sign-in');
  return { browser, uid, verifier, state, number: matchNumberOf(wait.body), cid: challenge.id, waitPage: wait.body };
}

/** The same at the demo app (/demo: number matching on), walked without JavaScript. */
export async function demoPushSignIn(w: PushWorld, user: User = alice(w)): Promise<PushSignIn> {
  const browser = new FormBrowser(w.t.url);
  const login = await browser.go('/demo/login');
  const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
  const next = await browser.submit(login.body, /\/login$/, { username: user.username, password: PushWorld.password });
  const wait = await sendPush(browser, next.body);
  expect(wait.url).toMatch(/\/wait$/);
  const [challenge] = await w.t.idp.challenges.listPending(user.id);
  if (!challenge || challenge.signInId !== uid) throw new Error('the IdP made no challenge for this sign-in');
  // The demo app holds its own PKCE verifier: its tokens are not this test's to redeem.
  return { browser, uid, verifier: '', state: '', number: matchNumberOf(wait.body), cid: challenge.id, waitPage: wait.body };
}

/** What the waiting page's script learns once the phone has answered (polled, not long-polled). */
export function answered(s: Pick<PushSignIn, 'browser' | 'uid'>, timeoutMs = 10_000): Promise<PushStatus> {
  return eventually(() => pushStatus(s.browser, s.uid), (st) => st.status !== 'pending', timeoutMs);
}

/** The relying app's ID token claims after an approved push sign-in. */
export async function finishAtRp(w: PushWorld, s: PushSignIn): Promise<Record<string, unknown>> {
  const status = await answered(s);
  expect(status.status).toBe('approved');
  const done = await s.browser.go(status.next);
  return (await w.tokens(done.url, s.verifier, s.state)).claims() as Record<string, unknown>;
}

/** The challenge as the IdP holds it (status and, once answered, the resolution). */
export async function challengeAt(w: PushWorld, cid: string): Promise<Challenge> {
  const challenge = await w.t.idp.challenges.get(cid);
  if (!challenge) throw new Error(`no challenge ${cid}`);
  return challenge;
}

/** Waits until the IdP has resolved the challenge. */
export function resolved(w: PushWorld, cid: string, timeoutMs = 10_000): Promise<Challenge> {
  return eventually(() => challengeAt(w, cid), (c) => c.status !== 'pending', timeoutMs);
}

/** The push the IdP sent to `subscription` for challenge `cid` (VAPID-checked and decrypted by the double). */
export async function pushMessage(w: PushWorld, subscription: MintedSubscription, cid: string, timeoutMs = 5000): Promise<ReceivedMessage> {
  const found = await eventually(
    () => w.pushService.messages.find((m) => m.subscriptionId === subscription.id && m.payload.cid === cid) ?? null,
    (m) => m !== null,
    timeoutMs,
  );
  return found!;
}

/** The audit events of one type about one challenge. */
export async function auditFor(w: PushWorld, type: string, cid: string): Promise<AuditRow[]> {
  return (await auditEvents(w, type)).filter((row) => row.detail.challengeId === cid);
}
