/**
 * A push sign-in as the benchmarks drive it, over HTTP only: the relying app's authorization
 * request, the login page, the password, "send a push", the waiting page, its long-poll, the
 * resume to the callback and the code-for-token exchange. Phones are test/support's
 * SimulatedAuthenticator, enrolled through the device API with a subscription of the local
 * push-service double.
 */
import type http from 'node:http';
import { SimulatedAuthenticator } from '../../test/support/authenticator.js';
import type { PushServiceDouble } from '../../test/support/push-service.js';
import type { BenchChild } from './child.js';
import { Browser, request } from './http.js';
import { log, pool } from './report.js';
import { basicAuth, pkce, RP_CALLBACK, RP_SECRET } from './world.js';

export interface BenchPhone {
  username: string;
  accountId: string;
  phone: SimulatedAuthenticator;
  subscriptionId: string;
  /** performance.now() of its last answer (TOTP steps: one answer per 30 s in steady state). */
  lastUsed: number;
}

/** Accounts with the benchmark password and one enrolled phone each, made through `idp`. */
export async function seedPhones(idp: BenchChild, opts: {
  count: number; prefix: string; passwordHash: string; pushService: PushServiceDouble; enrollBase?: string; concurrency?: number;
}): Promise<BenchPhone[]> {
  const t0 = performance.now();
  const seeded = await idp.call<{ username: string; accountId: string; code: string }[]>({
    cmd: 'seed', prefix: opts.prefix, count: opts.count, passwordHash: opts.passwordHash, codes: true,
  });
  const t1 = performance.now();
  const phones = await pool(seeded, opts.concurrency ?? 8, async (s) => {
    const sub = opts.pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(opts.enrollBase ?? idp.url, s.code, {
      push: { endpoint: sub.endpoint, keys: sub.keys }, name: 'Bench phone',
    });
    // Its first signed call confirms the device (src/devices/registry.ts LIVE), as the PWA's first
    // look for requests does: the sign-ins measured are a confirmed phone's, as in steady state.
    const first = await phone.request('GET', '/api/device/challenges');
    if (first.status !== 200) throw new Error(`the phone's first call answered ${first.status}`);
    return { username: s.username, accountId: s.accountId, phone, subscriptionId: sub.id, lastUsed: -Infinity };
  });
  log(`seeded ${opts.count} accounts in ${((t1 - t0) / 1000).toFixed(1)} s, enrolled their phones in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  return phones;
}

export interface Waiting {
  browser: Browser;
  uid: string;
  matchNumber: number;
  verifier: string;
  state: string;
  /** performance.now() just before the password POST was sent. */
  tPassword: number;
}

/** The relying app's authorization request: code flow, PKCE, scope openid. */
export function authorizeUrl(issuer: string, clientId: string, codeChallenge: string, state: string): string {
  const auth = new URL(`${issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: RP_CALLBACK, state,
    code_challenge: codeChallenge, code_challenge_method: 'S256',
  }).toString();
  return auth.href;
}

/** authorize -> login page -> password -> (two-step choice -> push, unless the app has autoPush) -> the waiting page. */
export async function signInToWaitingPage(agent: http.Agent, issuer: string, home: string, username: string, password: string, clientId = 'bench-rp'): Promise<Waiting> {
  const browser = new Browser(agent, issuer, home);
  const { verifier, challenge } = pkce();
  const state = pkce().verifier.slice(0, 22);
  const login = await browser.go('GET', authorizeUrl(issuer, clientId, challenge, state));
  const uid = /\/interaction\/([^/?]+)/.exec(login.url)?.[1];
  if (!uid || login.res.status !== 200) throw new Error(`authorize did not reach the login page: ${login.res.status} ${login.url}`);
  const tPassword = performance.now();
  let next = await browser.submit(login.res.body, /\/login$/, { username, password });
  if (/\/second-factor$/.test(next.url)) next = await browser.submit(next.res.body, /\/push$/, {});
  if (!/\/wait$/.test(next.url) || next.res.status !== 200) throw new Error(`password did not reach the waiting page: ${next.res.status} ${next.url} ${next.res.body.slice(0, 200)}`);
  const m = /id="match-number"[^>]*>(\d+)</.exec(next.res.body);
  if (!m) throw new Error('no match number on the waiting page');
  return { browser, uid, matchNumber: Number(m[1]), verifier, state, tPassword };
}

export interface PushStatus {
  status: string;
  reason: string | null;
  next: string;
}

/** The waiting page's long-poll (as views/static/push-wait.js sends it). */
export async function longPoll(w: Waiting, timeoutMs = 120_000): Promise<PushStatus> {
  const res = await w.browser.request('GET', `/interaction/${w.uid}/push/status`, { headers: { accept: 'application/json' }, timeoutMs });
  if (res.status !== 200) throw new Error(`push/status answered ${res.status}: ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body) as PushStatus;
}

/** After approval: the waiting page continues to the callback; the relying app swaps the code for tokens. */
export async function finishAndToken(agent: http.Agent, home: string, w: Waiting, status: PushStatus, clientId = 'bench-rp'): Promise<{ id_token: string; refresh_token?: string }> {
  if (status.status !== 'approved') throw new Error(`not approved: ${JSON.stringify(status)}`);
  const done = await w.browser.go('GET', status.next);
  if (!done.url.startsWith(`${RP_CALLBACK}?`)) throw new Error(`resume did not reach the callback: ${done.res.status} ${done.url} ${done.res.body.slice(0, 200)}`);
  const cb = new URL(done.url);
  const code = cb.searchParams.get('code');
  if (!code || cb.searchParams.get('state') !== w.state) throw new Error(`bad callback ${done.url}`);
  const res = await request(agent, 'POST', `${home}/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, RP_SECRET), accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP_CALLBACK, code_verifier: w.verifier }).toString(),
  });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${res.body.slice(0, 200)}`);
  const tokens = JSON.parse(res.body) as { id_token?: string; refresh_token?: string };
  if (!tokens.id_token) throw new Error('no id_token');
  return tokens as { id_token: string; refresh_token?: string };
}

/** The phone's side: answer one challenge with approval and the number shown on the page. */
export async function approve(phone: SimulatedAuthenticator, cid: string, number: number, nonce?: string): Promise<void> {
  const res = await phone.respond(cid, 'approve', { number, ...(nonce ? { nonce } : {}) });
  if (res.status !== 200 || (res.body as { status?: string }).status !== 'approved') {
    throw new Error(`approval refused: ${res.status} ${JSON.stringify(res.body)}`);
  }
}
