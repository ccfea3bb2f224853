/**
 * Small helpers shared by the end-to-end sign-in tests (test/signin/*.test.ts). Everything goes
 * through the real IdP over HTTP; the only direct reads are of what an operator could see too
 * (the audit trail, a device's row).
 */
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import type { MintedSubscription } from '../support/push-service.js';
import { PushWorld } from '../support/push-world.js';
import type { FormBrowser } from '../support/web-browser.js';

/**
 * PushWorld.start on PostgreSQL: a fresh schema starts in a fraction of a second where embedded
 * PGlite takes seconds (push-sign-in.test.ts keeps the embedded default covered end to end).
 */
export function startWorld(opts: Parameters<typeof PushWorld.start>[0] = {}): Promise<PushWorld> {
  return PushWorld.start({ ...opts, idp: { storage: 'postgres', ...opts.idp } });
}

/** A clock the IdP and the phones share; it runs with real time and can be moved forward. */
export function movableClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms;
    },
  };
}

export interface Phone {
  phone: SimulatedAuthenticator;
  subscription: MintedSubscription | null;
}

/** Enrolls a phone for any account (alice by default), optionally on a given clock. */
export async function enroll(w: PushWorld, opts: { accountId?: string; push?: boolean; now?: () => number; name?: string; fetch?: typeof fetch; confirm?: boolean } = {}): Promise<Phone> {
  const offer = await w.t.idp.deviceService.issueEnrollment(opts.accountId ?? w.accountId, 'test');
  const subscription = opts.push === false ? null : w.pushService.createSubscription();
  const push = subscription ? { endpoint: subscription.endpoint, keys: subscription.keys } : null;
  const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, {
    push, name: opts.name ?? 'Test phone', ...(opts.now ? { now: opts.now } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}), confirm: opts.confirm ?? false,
  });
  return { phone, subscription };
}

/** Another user with alice's password (so `w.startSignIn({ username })` works for them). */
export async function addUser(w: PushWorld, username: string): Promise<string> {
  const account = await w.t.idp.accounts.create({ username, displayName: username, passwordHash: await hashPassword(PushWorld.password) });
  return account.id;
}

export interface AuditRow {
  type: string;
  account_id: string | null;
  client_id: string | null;
  detail: Record<string, unknown>;
}

/** The audit trail of one type, oldest first. */
export async function auditEvents(w: PushWorld, type: string): Promise<AuditRow[]> {
  return w.t.idp.db.query<AuditRow>('SELECT type, account_id, client_id, detail FROM audit_events WHERE type = $1 ORDER BY id', [type]);
}

export async function waitUntil<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Resolves once the background dispatch of one challenge has finished (its 'push.sent' audit event). */
export async function dispatched(w: PushWorld, challengeId: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const row = await waitUntil(async () => (await auditEvents(w, 'push.sent')).find((r) => r.detail.challengeId === challengeId), timeoutMs, `push.sent for ${challengeId}`);
  return row.detail;
}

export interface PushStatus {
  status: string;
  reason: string | null;
  next: string;
}

/** What the waiting page's script sees; `wait: false` answers at once. */
export async function pushStatus(browser: FormBrowser, uid: string, opts: { wait?: boolean } = {}): Promise<PushStatus> {
  const res = await browser.request(`/interaction/${uid}/push/status${opts.wait ? '' : '?wait=0'}`, { headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`status endpoint answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as PushStatus;
}

/** Password done: press "Send a push to my phone" on the two-step choice page. */
export async function sendPush(browser: FormBrowser, choicePage: string) {
  return browser.submit(choicePage, /\/push$/, {});
}

/**
 * The opening most sign-in tests share: alice's password taken at the relying app's sign-in, then
 * "Send a push to my phone" pressed. Gives startSignIn's browser, uid, PKCE verifier and state,
 * and `wait`, the waiting page the browser is on (or whatever answered the push instead).
 */
export async function signedInToWaitingPage(w: PushWorld, fields: Record<string, string> = {}) {
  const started = await w.startSignIn(fields);
  const wait = await sendPush(started.browser, started.next.body);
  return { ...started, wait };
}

/** The newest pending challenge a phone can see (its id and the view). */
export async function newestChallenge(phone: SimulatedAuthenticator) {
  const list = await waitUntil(async () => {
    const l = await phone.pending();
    return l.length > 0 ? l : null;
  }, 5000, 'a pending challenge');
  return list[0]!;
}

/** A fetch that keeps every answer JWS the phone posts, as someone on the path would see it. */
export function recordingFetch(): { fetch: typeof fetch; responses: string[] } {
  const responses: string[] = [];
  const recording: typeof fetch = async (input, init) => {
    if (String(input).endsWith('/response') && typeof init?.body === 'string') {
      responses.push((JSON.parse(init.body) as { response: string }).response);
    }
    return fetch(input, init);
  };
  return { fetch: recording, responses };
}

export const CALLBACK = /^http:\/\/127\.0\.0\.1:1\/cb\?code=/;

/** The text of an element with this id in a page, tags stripped. */
export function textOf(html: string, id: string): string | null {
  const m = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</`).exec(html);
  return m ? m[1]!.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').trim() : null;
}
