/**
 * Benchmark 1: full push sign-in throughput.
 *
 * Virtual users each run whole sign-ins against our IdP (a child process, PostgreSQL and Redis on
 * 127.0.0.1): authorize -> login page -> password -> push -> the simulated phone receives the
 * encrypted Web Push from the local push-service double (VAPID checked, decrypted) and approves ->
 * the waiting page's long-poll returns -> code -> token. No human delay anywhere.
 *
 * Reported: sign-ins per second per CPU core used by the IdP process (its own process.cpuUsage(),
 * all threads: event loop, libuv pool where argon2 runs, GC), and p50/p99 from the password POST
 * to the token response. Baseline in the same run, interleaved with the sign-in runs: argon2id
 * verification alone at the configured cost (m=19 MiB, t=2, p=1), one at a time in the same child:
 * the ceiling of any password sign-in on one core.
 *
 * Run alone: node --import tsx bench/signin-throughput.ts
 */
import { hashPassword, ARGON2_OPTIONS } from '../src/accounts/passwords.js';
import { startPushService, type PushServiceDouble } from '../test/support/push-service.js';
import { childArgs, cpuOver, usageDelta, type BenchChild } from './support/child.js';
import type { ChildUsage } from './support/idp-server.js';
import { Browser, keepAliveAgent, request } from './support/http.js';
import { begin, median, runIfMain, latency, log, row, sleep, type BenchResult } from './support/report.js';
import { runFloor, setUpFloors, floorClient } from './support/floors.js';
import { approve, finishAndToken, longPoll, seedPhones, signInToWaitingPage, type BenchPhone } from './support/signin.js';
import { AUTO_PUSH_CLIENT_ID, autoPushClient, basicAuth, benchClient, createWorld, PASSWORD, pkce, RP_CALLBACK, RP_SECRET, serverCpu } from './support/world.js';

export interface SigninOptions {
  virtualUsers: number;
  runs: number;
  runSeconds: number;
  warmupSeconds: number;
  phones: number;
  argon2Seconds: number;
}

const defaults: SigninOptions = {
  virtualUsers: Number(process.env.BENCH_VUS ?? 16),
  runs: Number(process.env.BENCH_RUNS ?? 3),
  runSeconds: Number(process.env.BENCH_RUN_SECONDS ?? 10),
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 10),
  phones: Number(process.env.BENCH_PHONES ?? 2000),
  argon2Seconds: 3,
};

/** One answer per phone per 30-second TOTP step (RFC 6238 5.2 as the IdP enforces it): reuse a phone only after a step. */
const PHONE_REST_MS = 30_500;

class PhonePool {
  private readonly queue: BenchPhone[];
  waitedMs = 0;
  constructor(phones: BenchPhone[]) {
    this.queue = [...phones];
  }
  async take(): Promise<BenchPhone> {
    for (;;) {
      const head = this.queue[0];
      if (head) {
        const rest = head.lastUsed + PHONE_REST_MS - performance.now();
        if (rest <= 0) return this.queue.shift()!;
        this.waitedMs += Math.min(rest, 50);
        await sleep(Math.min(rest, 50));
      } else {
        await sleep(20);
      }
    }
  }
  give(p: BenchPhone): void {
    this.queue.push(p);
  }
}

interface RunOutcome {
  completed: number;
  errors: number;
  latenciesMs: number[];
  errorSamples: string[];
  steps: Steps;
}

/** Where the time of one sign-in went (ms, from the password POST), summed over a run. */
export const STEPS = ['waitingPage', 'pushArrived', 'approved', 'pageWoke', 'token'] as const;
type Steps = Record<(typeof STEPS)[number], number>;

async function oneSignIn(ctx: { agent: ReturnType<typeof keepAliveAgent>; issuer: string; push: PushServiceDouble; clientId: string }, p: BenchPhone, steps: Steps): Promise<number> {
  const startedEpoch = Date.now();
  const w = await signInToWaitingPage(ctx.agent, ctx.issuer, ctx.issuer, p.username, PASSWORD, ctx.clientId);
  const t0 = w.tPassword;
  let t = t0;
  const mark = (k: keyof Steps) => { const n = performance.now(); steps[k] += n - t; t = n; };
  mark('waitingPage');
  const status = longPoll(w, 30_000);
  status.catch(() => undefined);
  // The phone: the push arrives at the double, which checks VAPID and decrypts it.
  let cid: string | null = null;
  while (!cid) {
    const msg = await ctx.push.waitForMessage(p.subscriptionId, 15_000);
    if (msg.payload.createdAt >= startedEpoch - 1000) cid = msg.payload.cid; // older ones: leftovers of a failed sign-in
  }
  mark('pushArrived');
  await approve(p.phone, cid, w.matchNumber);
  mark('approved');
  const s = await status;
  mark('pageWoke');
  await finishAndToken(ctx.agent, ctx.issuer, w, s, ctx.clientId);
  mark('token');
  return performance.now() - t0;
}

async function drive(ctx: Parameters<typeof oneSignIn>[0], phones: PhonePool, vus: number, seconds: number): Promise<RunOutcome> {
  const out: RunOutcome = { completed: 0, errors: 0, latenciesMs: [], errorSamples: [], steps: Object.fromEntries(STEPS.map((k) => [k, 0])) as Steps };
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: vus }, async () => {
    while (performance.now() < end) {
      const p = await phones.take();
      try {
        out.latenciesMs.push(await oneSignIn(ctx, p, out.steps));
        out.completed++;
      } catch (err) {
        out.errors++;
        if (out.errorSamples.length < 5) out.errorSamples.push((err as Error).message.slice(0, 300));
      } finally {
        p.lastUsed = performance.now();
        phones.give(p);
      }
    }
  }));
  return out;
}

/**
 * Diagnostics (BENCH_STEP_CPU=n): n sign-ins one at a time, reading the IdP's CPU (its own
 * process.cpuUsage() over IPC, the cost of one reading subtracted) around each step, so the CPU of
 * a sign-in can be attributed to its HTTP steps. Work the IdP does after answering (the Web Push
 * dispatch after POST /push) lands in the step during which it runs.
 */
async function stepCpu(idp: BenchChild, ctx: Parameters<typeof oneSignIn>[0], phones: PhonePool, n: number) {
  let lastCounts: ChildUsage['counts'] | null = null;
  const cpuNow = async () => { const u = await idp.usage(); lastCounts = u.counts; return (u.cpu.user + u.cpu.system) / 1000; };
  // Round trips per step (by kind with BENCH_COUNT_DETAIL=1): where each statement and command comes from.
  const counted = new Map<string, Record<string, number>>();
  const addCounts = (name: string, a: ChildUsage['counts'], b: ChildUsage['counts']) => {
    const into = counted.get(name) ?? {};
    const add = (k: string, v: number) => { if (v) into[k] = (into[k] ?? 0) + v; };
    add('sql', a.sql - b.sql); add('redis', a.redis - b.redis);
    for (const [k, v] of Object.entries(a.sqlByStatement)) add(`sql: ${k}`, v - (b.sqlByStatement[k] ?? 0));
    for (const [k, v] of Object.entries(a.redisByCommand)) add(`redis: ${k}`, v - (b.redisByCommand[k] ?? 0));
    counted.set(name, into);
  };
  // The cost of a reading itself (IPC), measured the same way.
  let a = await cpuNow(); let probe = 0;
  for (let i = 0; i < 50; i++) { const b = await cpuNow(); probe += b - a; a = b; }
  const readingMs = probe / 50;
  const names = ['authorize + login page', 'password POST (+ choice page)', 'push POST (+ waiting page)', 'phone: fetch challenge', 'phone: answer (+ long-poll wakes)', 'waiting page continues + resume to callback', 'token'] as const;
  const sums = new Map<string, number>(names.map((k) => [k, 0]));
  for (let i = 0; i < n; i++) {
    const p = await phones.take();
    try {
      const browser = new Browser(ctx.agent, ctx.issuer);
      const { verifier, challenge } = pkce();
      const state = 'st' + i;
      const auth = new URL(`${ctx.issuer}/auth`);
      auth.search = new URLSearchParams({ client_id: ctx.clientId, response_type: 'code', scope: 'openid', redirect_uri: RP_CALLBACK, state, code_challenge: challenge, code_challenge_method: 'S256' }).toString();
      let t = await cpuNow();
      let c0 = lastCounts!;
      const step = async (name: (typeof names)[number]) => {
        const u = await cpuNow(); sums.set(name, sums.get(name)! + (u - t - readingMs)); addCounts(name, lastCounts!, c0);
        t = await cpuNow(); c0 = lastCounts!;
      };
      const login = await browser.go('GET', auth.href);
      await step('authorize + login page');
      const uid = /\/interaction\/([^/?]+)/.exec(login.url)![1]!;
      const startedEpoch = Date.now();
      const choice = await browser.submit(login.res.body, /\/login$/, { username: p.username, password: PASSWORD });
      await step('password POST (+ choice page)');
      // Under autoPush the password POST already sent the push and showed the waiting page.
      const wait = /\/wait$/.test(choice.url) ? choice : await browser.submit(choice.res.body, /\/push$/, {});
      let cid: string | null = null;
      while (!cid) { const m = await ctx.push.waitForMessage(p.subscriptionId, 15_000); if (m.payload.createdAt >= startedEpoch - 1000) cid = m.payload.cid; }
      await sleep(20); // the dispatch's audit write finishes after the push is sent
      await step('push POST (+ waiting page)');
      const number = Number(/id="match-number"[^>]*>(\d+)</.exec(wait.res.body)![1]);
      const status = longPoll({ browser, uid, matchNumber: number, verifier, state, tPassword: 0 }, 30_000);
      const seen = await p.phone.challenge(cid);
      await step('phone: fetch challenge');
      await approve(p.phone, cid, number, seen.nonce);
      const st = await status;
      await step('phone: answer (+ long-poll wakes)');
      const done = await browser.go('GET', st.next);
      await step('waiting page continues + resume to callback');
      const code = new URL(done.url).searchParams.get('code')!;
      const res = await request(ctx.agent, 'POST', `${ctx.issuer}/token`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(ctx.clientId, RP_SECRET) },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP_CALLBACK, code_verifier: verifier }).toString(),
      });
      if (res.status !== 200) throw new Error(`token ${res.status} ${res.body}`);
      await step('token');
    } finally {
      p.lastUsed = performance.now();
      phones.give(p);
    }
  }
  const perStep = Object.fromEntries([...sums].map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
  const total = [...sums.values()].reduce((x, y) => x + y, 0) / n;
  const countsPerStep = Object.fromEntries([...counted].map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([c, x]) => [c, Math.round((x / n) * 10) / 10]))]));
  return { n, readingMs, perStep, total, countsPerStep };
}

interface Variant {
  name: string;
  idp: BenchChild;
  phones: PhonePool;
  ctx: Parameters<typeof oneSignIn>[0];
  m: Record<'perCore' | 'perSec' | 'p50' | 'p99' | 'cpuPerSignin' | 'idpCores' | 'genCores' | 'argonPerCore' | 'argonMs' | 'ratio' | 'pgCores' | 'redisCores', number[]>;
  errors: number;
}

/**
 * BENCH_VARIANTS="ours;argon2-limit=1" runs our IdP as it is and with a scratch experiment
 * (bench/support/experiments.ts) in two children, runs alternating, each with its own phones;
 * BENCH_VARIANTS="ours;--max-semi-space-size=8" compares node flags the same way, and
 * BENCH_VARIANTS="ours;auto-push" the relying app with `login.autoPush` (the password POST sends the push).
 */
function variantNames(): string[] {
  return (process.env.BENCH_VARIANTS ?? 'ours').split(';').map((v) => v.trim()).filter(Boolean);
}

export async function signinThroughput(opts: Partial<SigninOptions> = {}): Promise<BenchResult> {
  const o = { ...defaults, ...opts };
  const names = variantNames();
  const bench = begin('signin-throughput', '1. Full push sign-in throughput (IdP in a child process; PostgreSQL + Redis on 127.0.0.1)', { ...o, argon2: ARGON2_OPTIONS, variants: names });
  const world = await createWorld('signin', [benchClient(), floorClient(), autoPushClient()]);
  const push = await startPushService(); // decrypting: the phone reads cid from the real message
  const agent = keepAliveAgent(256);
  try {
    const passwordHash = await hashPassword(PASSWORD);
    const variants: Variant[] = [];
    for (const [i, name] of names.entries()) {
      // A variant is a scratch experiment (bench/support/experiments.ts) or, starting with "--", node flags for the child.
      const flags = name.startsWith('--') ? name.split(' ') : [];
      const idp = await world.startIdp({
        label: `idp-${name}`, pushService: push, processEnv: name === 'ours' || name === 'auto-push' || flags.length ? {} : { BENCH_EXPERIMENTS: name },
        ...(flags.length ? { execArgv: [...flags, ...childArgs()] } : {}),
      });
      log(`signin: seeding ${o.phones} accounts with one phone each (${name})`);
      const phones = new PhonePool(await seedPhones(idp, { count: o.phones, prefix: `u${i}-`, passwordHash, pushService: push, concurrency: 12 }));
      variants.push({
        name, idp, phones, ctx: { agent, issuer: idp.url, push, clientId: name === 'auto-push' ? AUTO_PUSH_CLIENT_ID : 'bench-rp' }, errors: 0,
        m: { perCore: [], perSec: [], p50: [], p99: [], cpuPerSignin: [], idpCores: [], genCores: [], argonPerCore: [], argonMs: [], ratio: [], pgCores: [], redisCores: [] },
      });
    }
    const redis = world.redis();
    // The floors (bench/support/floors.ts): password-only sign-ins through ours and through a bare oidc-provider. BENCH_SIGNIN_FLOORS=0: none.
    const floorSet = process.env.BENCH_SIGNIN_FLOORS === '0' ? null : await setUpFloors(world, variants[0]!.idp, passwordHash, 500);

    for (const v of variants) {
      log(`signin: warm-up ${o.warmupSeconds} s with ${o.virtualUsers} virtual users (${v.name})`);
      const warm = await drive(v.ctx, v.phones, o.virtualUsers, o.warmupSeconds);
      if (warm.completed === 0) throw new Error(`no sign-in completed in the warm-up: ${warm.errorSamples.join(' | ')}`);
      if (process.env.BENCH_STEP_CPU) {
        const steps = await stepCpu(v.idp, v.ctx, v.phones, Number(process.env.BENCH_STEP_CPU));
        log(`signin: IdP CPU per step, ms (one sign-in at a time, ${steps.n} sign-ins, ${v.name}): ${JSON.stringify(steps.perStep)}; total ${steps.total.toFixed(1)} ms`);
        log(`signin: round trips per step: ${JSON.stringify(steps.countsPerStep)}`);
        bench.result.config[`stepCpu:${v.name}`] = steps;
      }
    }

    for (const f of floorSet?.floors ?? []) {
      log(`signin: warm-up ${o.warmupSeconds} s (floor: ${f.name})`);
      await runFloor(f, agent, floorSet!.usernames, o.virtualUsers, o.warmupSeconds);
      if (f.errors) throw new Error(`floor ${f.name}: ${f.errorSamples.join(' | ')}`);
      for (const k of Object.keys(f.m) as (keyof typeof f.m)[]) f.m[k].length = 0;
    }

    for (let r = 0; r < o.runs; r++) {
      for (const f of floorSet?.floors ?? []) {
        log(`signin run ${r + 1}, floor ${await runFloor(f, agent, floorSet!.usernames, o.virtualUsers, o.runSeconds)}`);
      }
      for (const v of variants) {
        const { idp, phones, ctx, m } = v;
        const gen0 = process.cpuUsage();
        const srv0 = await serverCpu(redis);
        const { result, cpuSeconds: [cpu], wallSeconds, before, after } = await cpuOver([idp], () => drive(ctx, phones, o.virtualUsers, o.runSeconds));
        const srv1 = await serverCpu(redis);
        const gen = process.cpuUsage(gen0);
        const used = usageDelta(before[0]!, after[0]!);
        const per = (x: number) => Math.round((x / Math.max(1, result.completed)) * 10) / 10;
        const perSignin = { userMs: per(used.userSeconds * 1000), systemMs: per(used.systemSeconds * 1000), sql: per(used.sql), redis: per(used.redis),
          sqlByStatement: Object.fromEntries(Object.entries(used.sqlByStatement).map(([k, n]) => [k, per(n)])),
          redisByCommand: Object.fromEntries(Object.entries(used.redisByCommand).map(([k, n]) => [k, per(n)])) };
        const lat = latency(result.latenciesMs);
        v.errors += result.errors;
        m.perCore.push(result.completed / cpu!);
        m.perSec.push(result.completed / wallSeconds);
        m.cpuPerSignin.push((cpu! * 1000) / result.completed);
        m.idpCores.push(cpu! / wallSeconds);
        m.genCores.push((gen.user + gen.system) / 1e6 / wallSeconds);
        m.pgCores.push((srv1.postgres - srv0.postgres) / wallSeconds);
        m.redisCores.push((srv1.redis - srv0.redis) / wallSeconds);
        m.p50.push(lat.p50); m.p99.push(lat.p99);
        const stepMeans = Object.fromEntries(STEPS.map((k) => [k, Math.round((result.steps[k] / Math.max(1, result.completed)) * 10) / 10]));
        log(`signin run ${r + 1} (${v.name}): ${result.completed} sign-ins in ${wallSeconds.toFixed(1)} s, IdP CPU ${cpu!.toFixed(2)} s -> ${(result.completed / cpu!).toFixed(1)}/core-s; p50 ${lat.p50.toFixed(0)} ms p99 ${lat.p99.toFixed(0)} ms; mean ms per step ${JSON.stringify(stepMeans)}; per sign-in: user ${perSignin.userMs} ms, system ${perSignin.systemMs} ms, ${perSignin.sql} SQL statements, ${perSignin.redis} Redis commands; errors ${result.errors}${result.errorSamples.length ? ` (${result.errorSamples[0]})` : ''}`);

        // Baseline, same child, right after: argon2id verifications one at a time.
        const a = await idp.call<{ n: number; wallMs: number; cpuMs: number; times: number[] }>({ cmd: 'argon2', hash: passwordHash, password: PASSWORD, durationMs: o.argon2Seconds * 1000 });
        const aPerCore = a.n / (a.cpuMs / 1000);
        m.argonPerCore.push(aPerCore);
        m.argonMs.push(a.cpuMs / a.n);
        m.ratio.push(result.completed / cpu! / aPerCore);
        log(`argon2 run ${r + 1} (${v.name}): ${a.n} verifications, ${(a.cpuMs / a.n).toFixed(1)} ms CPU each (${(a.wallMs / a.n).toFixed(1)} ms wall) -> ${aPerCore.toFixed(1)}/core-s`);
        bench.result.runs.push({ run: r + 1, variant: v.name, signin: { ...result, latenciesMs: undefined, stepMeansMs: stepMeans, perSignin, latency: lat, cpuSeconds: cpu, wallSeconds }, argon2: { n: a.n, wallMs: a.wallMs, cpuMs: a.cpuMs } });
      }
    }
    for (const v of variants) {
      const tag = variants.length > 1 ? ` [${v.name}]` : '';
      const { m } = v;
      bench.result.rows.push(
        row(`push sign-ins per IdP core-second${tag}`, '1/s/core', m.perCore, {
          baselineLabel: 'argon2id verify alone', baseline: m.argonPerCore, ratio: m.ratio, target: '>= 30', met: median(m.perCore) >= 30,
        }),
        row(`IdP CPU per sign-in${tag}`, 'ms', m.cpuPerSignin, { baselineLabel: 'argon2id verify alone', baseline: m.argonMs }),
        row(`sign-ins per second (wall)${tag}`, '1/s', m.perSec),
        row(`password POST -> token, p50${tag}`, 'ms', m.p50),
        row(`password POST -> token, p99${tag}`, 'ms', m.p99),
        row(`IdP process CPU use${tag}`, 'cores', m.idpCores),
        row(`load generator CPU use (parent)${tag}`, 'cores', m.genCores),
        row(`PostgreSQL server CPU use${tag}`, 'cores', m.pgCores),
        row(`Redis server CPU use${tag}`, 'cores', m.redisCores),
      );
    }
    for (const f of floorSet?.floors ?? []) {
      const argon = variants[0]!.m.argonPerCore;
      bench.result.rows.push(
        row(`floor: password-only sign-ins per core-second, ${f.name}`, '1/s/core', f.m.perCore, {
          baselineLabel: 'argon2id verify alone', baseline: argon, ratio: f.m.perCore.map((x, i) => x / argon[i]!),
        }),
        row(`floor: CPU per password-only sign-in, ${f.name}`, 'ms', f.m.cpuMs),
        row(`floor: SQL statements per password-only sign-in, ${f.name}`, 'count', f.m.sql),
        row(`floor: Redis commands per password-only sign-in, ${f.name}`, 'count', f.m.redis),
      );
      bench.result.notes.push(`floor ${f.name}: errors ${f.errors}.`);
    }
    if (variants.length > 1) {
      const base = variants[0]!;
      for (const v of variants.slice(1)) {
        bench.result.rows.push(row(`sign-ins per core: ${v.name} / ${base.name}`, 'ratio', v.m.perCore.map((x, i) => x / base.m.perCore[i]!)));
      }
    }
    for (const v of variants) {
      bench.result.notes.push(`${v.name}: errors ${v.errors}; phone-pool waits ${(v.phones.waitedMs / 1000).toFixed(1)} s.`);
    }
    bench.result.notes.push(
      `${o.virtualUsers} virtual users, ${o.runs} runs of ${o.runSeconds} s after a ${o.warmupSeconds} s warm-up; ${o.phones} accounts with one phone each per variant (a phone answers at most once per 30 s TOTP step).`,
      'Per-core = completed sign-ins / CPU seconds of the IdP process (user+system, all threads). PostgreSQL, Redis and the load generator run on the same 2 cores and are not counted in it.',
      'Two-step form (password page, then "Send a push"), number matching on, ES256 ID tokens, consent implicit; the phone fetches the challenge (device-auth JWS) and posts a signed answer, as the PWA does.',
      'Floors (bench/support/floors.ts; BENCH_SIGNIN_FLOORS=0 skips them), run in each round before the push sign-ins and divided by that round\'s argon2id figure: password-only sign-ins (authorize, login page, password, resume, callback, token) through our IdP (accounts without an authenticator, a relying app that lets them in with the password) and through a bare oidc-provider with the same adapters and key and the least login (bench/support/bare-login.ts).',
    );
    await redis.quit();
  } finally {
    agent.destroy();
    await world.cleanup();
    await push.close();
  }
  return bench.finish();
}

runIfMain(import.meta.url, signinThroughput);
