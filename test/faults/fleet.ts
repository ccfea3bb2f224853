/**
 * IdP processes for the fault tests, started as test/production/three-processes.test.ts starts
 * them (`src/main.ts` with environment only), pointed at the private servers of
 * test/support/private-servers.ts, and killed or restarted one by one. startFaultWorld starts what
 * a test file asks for (servers, push-service double, processes) and stops it all in one call.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as oidc from 'openid-client';
import { adminCli } from '../support/admin-cli.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { freePort, testRp, TEST_RP_SECRET } from '../support/idp.js';
import { PrivateCluster, PrivatePostgres, PrivateRedis, PrivateSentinel } from '../support/private-servers.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { matchNumberOf, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { waitUntil } from '../signin/helpers.js';
import { IDP_MAIN } from '../support/entry.js';

export const PASSWORD = 'violet harbour quietly 7 kettles';

export interface FleetOptions {
  databaseUrl: string;
  redisUrl: string;
  pushService: PushServiceDouble;
  count: number;
  env?: Record<string, string>;
}

export class Fleet {
  readonly urls: string[] = [];
  readonly logs: string[] = [];
  private readonly procs: (ChildProcess | null)[] = [];
  private readonly ports: number[] = [];
  private constructor(private readonly dir: string, readonly env: NodeJS.ProcessEnv) {}

  static async start(o: FleetOptions): Promise<Fleet> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-faults-'));
    const configDir = path.join(dir, 'config');
    mkdirSync(path.join(configDir, 'clients'), { recursive: true });
    writeFileSync(path.join(configDir, 'clients', 'test-rp.json'), JSON.stringify(testRp({ login: { consent: 'implicit' } })));
    const ports: number[] = [];
    for (let i = 0; i < o.count; i++) ports.push(await freePort());
    const env: NodeJS.ProcessEnv = {
      ...process.env, NODE_OPTIONS: '', ISSUER: `http://127.0.0.1:${ports[0]}`, HOST: '127.0.0.1', CONFIG_DIR: configDir,
      DATABASE_URL: o.databaseUrl, REDIS_URL: o.redisUrl, REDIS_PREFIX: 'faults:',
      COOKIE_KEYS: randomBytes(32).toString('base64url'), KEK: `k1:${randomBytes(32).toString('base64')}`,
      TEST_RP_SECRET, LOG_LEVEL: 'warn', ...o.pushService.env(), ...o.env,
    };
    const fleet = new Fleet(dir, env);
    fleet.ports.push(...ports);
    fleet.urls.push(...ports.map((p) => `http://127.0.0.1:${p}`));
    try {
      // One at a time: the first runs the migrations on the empty database.
      for (let i = 0; i < o.count; i++) await fleet.up(i);
    } catch (err) {
      await fleet.stop(); // a process that never got ready is not left running
      throw err;
    }
    return fleet;
  }

  /**
   * Starts process i (again) and waits until it answers /readyz. A process that exits first because
   * its port was taken meanwhile (freePort closes the port it found; a suite in another jest worker
   * may bind it before the process does) starts again on another port (the first's also moves ISSUER,
   * before any process runs); any other early exit fails at once, with the process's output.
   */
  async up(i: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const child = spawn(process.execPath, [IDP_MAIN], {
        env: { ...this.env, PORT: String(this.ports[i]), DATA_DIR: path.join(this.dir, `data-${i}`) }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output: string[] = [];
      const log = (b: Buffer) => { output.push(String(b)); this.logs.push(`[${i}] ${b}`); };
      child.stdout!.on('data', log);
      child.stderr!.on('data', log);
      this.procs[i] = child;
      const ready = await waitUntil(async () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited';
        return fetch(`${this.urls[i]}/readyz`).then((r) => (r.ok ? 'ready' : null), () => null);
      }, 90_000, `${this.urls[i]} ready`).catch((err: Error) => { throw new Error(`${err.message} (output: ${output.join('').slice(-3000)})`); });
      if (ready === 'ready') return;
      const taken = /EADDRINUSE/.test(output.join(''));
      if (!taken || attempt >= 2 || (i === 0 && this.procs.length > 1)) throw new Error(`process ${i} exited before it was ready: ${output.join('').slice(-3000)}`);
      this.ports[i] = await freePort();
      this.urls[i] = `http://127.0.0.1:${this.ports[i]}`;
      if (i === 0) this.env.ISSUER = this.urls[0];
    }
  }

  alive(i: number): boolean {
    const p = this.procs[i];
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** Ends process i with `signal` and waits for it to exit. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs[i];
    if (!p || !this.alive(i)) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 20_000); })]);
    clearTimeout(timer);
    if (this.alive(i)) { p.kill('SIGKILL'); await exited; }
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.procs.length; i++) await this.kill(i, 'SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The admin CLI against the fleet's storage, without blocking this process (test/support/admin-cli.ts). */
  admin(args: string[], input?: string): Promise<string> {
    return adminCli(args, { env: this.env, timeoutMs: 90_000, ...(input === undefined ? {} : { input }) });
  }

  /** A user with a password and an enrolled phone (enrolled at process `at`). */
  async user(name: string, push: PushServiceDouble, at = 0) {
    await this.admin(['user', 'create', name, '--password-stdin'], `${PASSWORD}\n`);
    const code = /enrollment code for \S+: (\S+)/.exec(await this.admin(['device', 'enroll-code', name]))![1]!;
    const subscription = push.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(this.urls[at]!, code, { push: { endpoint: subscription.endpoint, keys: subscription.keys } });
    return { name, phone, subscription };
  }

  /**
   * authorize -> password -> "send a push" -> the waiting page, at process 0 (the one the issuer
   * URL names: every URL the IdP emits points there). Other processes are reached with statusAt.
   */
  async toWaitingPage(username: string) {
    const rp = await oidc.discovery(new URL(this.urls[0]!), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorize = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(this.urls[0]!);
    const login = await browser.go(authorize.href);
    const uid = /\/interaction\/([^/?]+)/.exec(login.url)![1]!;
    const choice = await browser.submit(login.body, /\/login$/, { username, password: PASSWORD });
    const wait = await browser.submit(choice.body, /\/push$/, {});
    const number = matchNumberOf(wait.body);
    return { rp, verifier, state, browser, uid, number, login, wait };
  }
}

/** What a fault test file needs started; stop() ends it all, whatever did start. */
export interface FaultWorldOptions {
  /** One redis-server, a Sentinel group (master, replica, three Sentinels) or a six-node Cluster. */
  redis?: 'single' | 'sentinel' | 'cluster';
  /** A private PostgreSQL (implied by `processes`). */
  postgres?: boolean;
  /** How many IdP processes (src/main.ts) to start on those servers, with the push-service double. */
  processes?: number;
  /** Extra environment for the processes. */
  env?: Record<string, string>;
}

interface Parts {
  redis?: PrivateRedis;
  sentinel?: PrivateSentinel;
  cluster?: PrivateCluster;
  pg?: PrivatePostgres;
  push?: PushServiceDouble;
  fleet?: Fleet;
}

function need<T>(part: T | undefined, what: string): T {
  if (part === undefined) throw new Error(`this fault world was not asked for ${what}`);
  return part;
}

export class FaultWorld {
  private constructor(private readonly parts: Parts) {}

  get redis(): PrivateRedis { return need(this.parts.redis, "redis: 'single'"); }
  get sentinel(): PrivateSentinel { return need(this.parts.sentinel, "redis: 'sentinel'"); }
  get cluster(): PrivateCluster { return need(this.parts.cluster, "redis: 'cluster'"); }
  get pg(): PrivatePostgres { return need(this.parts.pg, 'postgres'); }
  get push(): PushServiceDouble { return need(this.parts.push, 'processes'); }
  get fleet(): Fleet { return need(this.parts.fleet, 'processes'); }

  static async start(o: FaultWorldOptions): Promise<FaultWorld> {
    const count = o.processes ?? 0;
    if (count > 0 && !o.redis) throw new Error('IdP processes need a Redis');
    const parts: Parts = {};
    const world = new FaultWorld(parts);
    // The servers start side by side; if one fails, the others are stopped before the error is thrown.
    const started = await Promise.allSettled([
      o.redis === 'single' ? PrivateRedis.start().then((r) => { parts.redis = r; }) : null,
      o.redis === 'sentinel' ? PrivateSentinel.start('faults').then((r) => { parts.sentinel = r; }) : null,
      o.redis === 'cluster' ? PrivateCluster.start().then((r) => { parts.cluster = r; }) : null,
      o.postgres || count > 0 ? PrivatePostgres.start().then((r) => { parts.pg = r; }) : null,
      count > 0 ? startPushService().then((r) => { parts.push = r; }) : null,
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      if (count > 0) {
        const redisUrl = (parts.redis ?? parts.sentinel ?? parts.cluster)!.url;
        parts.fleet = await Fleet.start({ databaseUrl: parts.pg!.url, redisUrl, pushService: parts.push!, count, ...(o.env ? { env: o.env } : {}) });
      }
    } catch (err) {
      await world.stop();
      throw err;
    }
    return world;
  }

  /** The processes first (they would log every server going away), then the servers. */
  async stop(): Promise<void> {
    const { fleet, redis, sentinel, cluster, pg: db, push } = this.parts;
    await fleet?.stop();
    await Promise.allSettled([redis?.stop(), sentinel?.stop(), cluster?.stop(), db?.stop(), push?.close()]);
  }
}

export const startFaultWorld = (o: FaultWorldOptions): Promise<FaultWorld> => FaultWorld.start(o);

/** The waiting page's long-poll, sent to any process with the browser's cookies; never throws. */
export async function statusAt(base: string, browser: FormBrowser, uid: string, opts: { wait?: boolean; timeoutMs?: number } = {}) {
  try {
    const res = await fetch(`${base}/interaction/${uid}/push/status${opts.wait === false ? '?wait=0' : ''}`, {
      headers: { cookie: browser.cookieHeader(), accept: 'application/json' }, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
    const text = await res.text();
    let body: { status?: string; reason?: string | null; next?: string; error?: string } = {};
    try { body = JSON.parse(text) as typeof body; } catch { /* not JSON */ }
    return { status: res.status, body, text, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    return { status: 0, body: {}, text: String((err as Error).message), retryAfter: null };
  }
}

/** Rows of a table in the private database (the audit log, devices, accounts). */
export async function rows(databaseUrl: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try { return (await c.query(sql, params)).rows as Record<string, unknown>[]; } finally { await c.end(); }
}

/** A phone's answer that keeps trying through a fault (503, a reset connection) until one is final. */
export async function approveThrough(phone: SimulatedAuthenticator, cid: string, number: number | null, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < end) {
    try {
      const view = await phone.challenge(cid);
      const res = await phone.respond(cid, 'approve', { ...(number === null ? {} : { number }), nonce: view.nonce });
      if (res.status !== 503) return res;
      last = res;
    } catch (err) {
      last = err;
      const status = (err as { status?: number }).status;
      if (status !== undefined && status !== 503) throw err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`no final answer to the approval within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** The waiting page's polling, sent to `base` until it hears something other than pending/503/no answer. */
export async function pollUntilAnswered(base: string, browser: FormBrowser, uid: string, timeoutMs = 90_000) {
  return waitUntil(async () => {
    const r = await statusAt(base, browser, uid, { timeoutMs: 40_000 });
    return r.status === 0 || r.status === 503 || (r.status === 200 && r.body.status === 'pending') ? null : r;
  }, timeoutMs, `an answer from ${base}`);
}

/** The rest of an approved sign-in: the waiting page continues (at process 0), the app redeems the code. */
export async function finish(s: Awaited<ReturnType<Fleet['toWaitingPage']>>, next: string) {
  const done = await s.browser.go(next);
  if (!/^http:\/\/127\.0\.0\.1:1\/cb\?code=/.test(done.url)) throw new Error(`resume did not reach the callback: ${done.res.status} ${done.url} ${done.body.slice(0, 300)}`);
  return oidc.authorizationCodeGrant(s.rp, new URL(done.url), { pkceCodeVerifier: s.verifier, expectedState: s.state });
}

/** The newest pending challenge on the phone (its id is the push's `cid`). */
export async function pendingOn(phone: SimulatedAuthenticator, timeoutMs = 30_000) {
  return waitUntil(async () => {
    try { return (await phone.pending()).at(-1) ?? null; } catch { return null; }
  }, timeoutMs, 'a pending push on the phone');
}

/**
 * After a failover: the phone approves (retrying through 503s) while the waiting page at process 0
 * polls; both must hear "approved", the app redeems its code, and the audit log kept every step.
 * Returns the ID token's claims.
 */
export async function approveAfterFailover(w: FaultWorld, s: Awaited<ReturnType<Fleet['toWaitingPage']>>, phone: SimulatedAuthenticator, cid: string) {
  const waiting = pollUntilAnswered(w.fleet.urls[0]!, s.browser, s.uid, 120_000);
  const answer = await approveThrough(phone, cid, s.number, 120_000);
  if ((answer.body as { status?: string }).status !== 'approved') throw new Error(`the approval was not accepted: ${JSON.stringify(answer.body)}`);
  const status = await waiting;
  if (status.body.status !== 'approved') throw new Error(`the waiting page heard ${status.status} ${status.text.slice(0, 200)}`);
  const tokens = await finish(s, status.body.next!);
  const audited = (await rows(w.pg.url, 'SELECT type FROM audit_events')).map((r) => r.type);
  return { claims: tokens.claims()!, audited };
}
