/**
 * Benchmark 4: the token endpoint. Refresh-token grants per second per CPU core of the server
 * process: our IdP (createIdp: our Koa app in front of oidc-provider, our adapters, our
 * findAccount) versus a bare oidc-provider with the same storage (src/oidc/adapters.ts: SQL for
 * refresh tokens and grants, Redis for access tokens) and the same key type (ES256 ID tokens), in
 * the same run, runs alternating. A third server, the bare provider whose findAccount reads the
 * same accounts table as ours, separates the cost of that lookup from the rest.
 *
 * Refresh tokens are minted in each server through its own oidc-provider models (a grant with
 * `openid offline_access`, a refresh token that does not expire with the session), so both sides
 * serve identical requests: confidential client, client_secret_basic, no rotation.
 *
 * Run alone: node --import tsx bench/token-endpoint.ts
 */
import { hashPassword } from '../src/accounts/passwords.js';
import { cpuOver, usageDelta, type BenchChild } from './support/child.js';
import { keepAliveAgent, request } from './support/http.js';
import { begin, median, runIfMain, latency, log, row, type BenchResult } from './support/report.js';
import { basicAuth, createWorld, PASSWORD, RP_CALLBACK, RP_SECRET } from './support/world.js';

export interface TokenOptions {
  runs: number;
  runSeconds: number;
  warmupSeconds: number;
  concurrency: number;
  refreshTokens: number;
}

const defaults: TokenOptions = {
  // Many short alternating slices: on a noisy machine paired neighbours compare better than long runs.
  runs: Number(process.env.BENCH_RUNS ?? 8),
  runSeconds: Number(process.env.BENCH_RUN_SECONDS ?? 2),
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 4),
  concurrency: 32,
  refreshTokens: 200,
};

interface Server {
  name: string;
  child: BenchChild;
  tokens: string[];
  perCore: number[];
  perSec: number[];
  p50: number[];
  p99: number[];
  cpuUs: number[];
  sql: number[];
  redis: number[];
  errors: number;
}

async function load(agent: ReturnType<typeof keepAliveAgent>, s: Server, seconds: number, concurrency: number) {
  const end = performance.now() + seconds * 1000;
  const lat: number[] = [];
  let ok = 0;
  let errors = 0;
  let sample = '';
  let i = 0;
  const auth = basicAuth('bench-rp', RP_SECRET);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const token = s.tokens[i++ % s.tokens.length]!;
      const t0 = performance.now();
      try {
        const res = await request(agent, 'POST', `${s.child.url}/token`, {
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, accept: 'application/json' },
          body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`,
        });
        if (res.status !== 200 || !res.body.includes('"id_token"')) throw new Error(`${res.status} ${res.body.slice(0, 200)}`);
        ok++;
        lat.push(performance.now() - t0);
      } catch (err) {
        errors++;
        sample ||= (err as Error).message;
      }
    }
  }));
  return { ok, errors, sample, lat };
}

export async function tokenEndpoint(opts: Partial<TokenOptions> = {}): Promise<BenchResult> {
  const o = { ...defaults, ...opts };
  const bench = begin('token-endpoint', '4. Token endpoint: refresh-token grants, ours vs a bare oidc-provider (servers in child processes)', { ...o });
  const world = await createWorld('token');
  const agent = keepAliveAgent(o.concurrency * 2);
  try {
    const ours = await world.startIdp({ label: 'ours' });
    const bareClient = {
      client_id: 'bench-rp', client_secret: RP_SECRET, redirect_uris: [RP_CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      id_token_signed_response_alg: 'ES256', token_endpoint_auth_method: 'client_secret_basic',
    };
    const bare = await world.startBare({ label: 'bare', client: bareClient });
    const bareLookup = await world.startBare({ label: 'bare+account', client: bareClient, accountLookup: true });
    // For reference: where oidc-provider keeps refresh tokens decides much of a grant's cost.
    const bareRedis = await world.startBare({ label: 'bare, all Redis', client: bareClient, allRedis: true });
    const [account] = await ours.call<{ accountId: string }[]>({ cmd: 'seed', prefix: 'rt', count: 1, passwordHash: await hashPassword(PASSWORD), codes: false });
    const mint = (c: BenchChild, accountId: string | null) => c.call<string[]>({ cmd: 'mint-refresh', clientId: 'bench-rp', accountId, count: o.refreshTokens, scope: 'openid offline_access' });
    const servers: Server[] = [
      { name: 'ours', child: ours, tokens: await mint(ours, account!.accountId) },
      { name: 'bare oidc-provider', child: bare, tokens: await mint(bare, null) },
      { name: 'bare + account lookup', child: bareLookup, tokens: await mint(bareLookup, account!.accountId) },
      { name: 'bare, every model in Redis', child: bareRedis, tokens: await mint(bareRedis, null) },
    ].map((s) => ({ ...s, perCore: [], perSec: [], p50: [], p99: [], cpuUs: [], sql: [], redis: [], errors: 0 }));
    // BENCH_TOKEN_VARIANTS="provider-direct;...": more of our IdP with scratch experiments (bench/support/experiments.ts).
    for (const v of (process.env.BENCH_TOKEN_VARIANTS ?? '').split(';').filter(Boolean)) {
      const child = await world.startIdp({ label: `ours ${v}`, processEnv: { BENCH_EXPERIMENTS: v } });
      servers.push({ name: `ours [${v}]`, child, tokens: await mint(child, account!.accountId), perCore: [], perSec: [], p50: [], p99: [], cpuUs: [], sql: [], redis: [], errors: 0 });
    }

    // The ID token really is ES256 on every side.
    for (const s of servers) {
      const res = await request(agent, 'POST', `${s.child.url}/token`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('bench-rp', RP_SECRET) },
        body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(s.tokens[0]!)}`,
      });
      const idToken = (JSON.parse(res.body) as { id_token?: string }).id_token ?? '';
      const alg = (JSON.parse(Buffer.from(idToken.split('.')[0] ?? '', 'base64url').toString() || '{}') as { alg?: string }).alg;
      if (res.status !== 200 || alg !== 'ES256') throw new Error(`${s.name}: refresh grant gave ${res.status} alg ${alg}: ${res.body.slice(0, 300)}`);
    }
    log('token: every server answers a refresh grant with an ES256 ID token');
    for (const s of servers) await load(agent, s, o.warmupSeconds, o.concurrency);

    for (let r = 0; r < o.runs; r++) {
      const order = r % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        const { result, cpuSeconds: [cpu], wallSeconds, before, after } = await cpuOver([s.child], () => load(agent, s, o.runSeconds, o.concurrency));
        const used = usageDelta(before[0]!, after[0]!);
        const lat = latency(result.lat);
        s.errors += result.errors;
        s.perCore.push(result.ok / cpu!);
        s.perSec.push(result.ok / wallSeconds);
        s.p50.push(lat.p50);
        s.p99.push(lat.p99);
        s.cpuUs.push((cpu! * 1e6) / result.ok);
        s.sql.push(used.sql / result.ok);
        s.redis.push(used.redis / result.ok);
        log(`token run ${r + 1} ${s.name}: ${result.ok} grants in ${wallSeconds.toFixed(1)} s (${(result.ok / wallSeconds).toFixed(0)}/s), CPU ${cpu!.toFixed(2)} s -> ${(result.ok / cpu!).toFixed(0)}/core-s, ${((cpu! * 1e6) / result.ok).toFixed(0)} µs each; ${(used.sql / result.ok).toFixed(1)} SQL + ${(used.redis / result.ok).toFixed(1)} Redis per grant; errors ${result.errors}${result.sample ? ` (${result.sample})` : ''}`);
        bench.result.runs.push({ run: r + 1, server: s.name, ok: result.ok, errors: result.errors, cpuSeconds: cpu, wallSeconds, latency: lat, perGrant: { sql: used.sql / result.ok, redis: used.redis / result.ok, userUs: (used.userSeconds * 1e6) / result.ok, systemUs: (used.systemSeconds * 1e6) / result.ok } });
      }
    }
    const [us, b, bl, br] = servers as [Server, Server, Server, Server];
    const ratio = us.perCore.map((x, i) => x / b.perCore[i]!);
    bench.result.rows.push(
      row('refresh grants per server core-second', '1/s/core', us.perCore, {
        baselineLabel: 'bare oidc-provider', baseline: b.perCore, ratio, target: '>= 1.0× bare', met: median(ratio) >= 1,
      }),
      row('refresh grants per server core-second (absolute)', '1/s/core', us.perCore, { target: '>= 1,200', met: median(us.perCore) >= 1200 }),
      row('refresh grants per server core-second (bare + account lookup as baseline)', '1/s/core', us.perCore, {
        baselineLabel: 'bare + account lookup', baseline: bl.perCore, ratio: us.perCore.map((x, i) => x / bl.perCore[i]!),
      }),
      row('server CPU per grant', 'µs', us.cpuUs, { baselineLabel: 'bare oidc-provider', baseline: b.cpuUs }),
      row('grants per second (wall)', '1/s', us.perSec, { baselineLabel: 'bare oidc-provider', baseline: b.perSec }),
      row('latency p50', 'ms', us.p50, { baselineLabel: 'bare oidc-provider', baseline: b.p50 }),
      row('latency p99', 'ms', us.p99, { baselineLabel: 'bare oidc-provider', baseline: b.p99 }),
      row('SQL statements per grant', 'count', us.sql, { baselineLabel: 'bare oidc-provider', baseline: b.sql }),
      row('Redis commands per grant', 'count', us.redis, { baselineLabel: 'bare oidc-provider', baseline: b.redis }),
      row('reference: bare oidc-provider with every model in Redis, grants per core-second', '1/s/core', br.perCore, {
        baselineLabel: 'bare oidc-provider (ours adapters)', baseline: b.perCore, ratio: br.perCore.map((x, i) => x / b.perCore[i]!),
      }),
    );
    for (const s of servers.slice(4)) {
      bench.result.rows.push(row(`refresh grants per core-second, ${s.name}`, '1/s/core', s.perCore, { baselineLabel: 'ours', baseline: us.perCore, ratio: s.perCore.map((x, i) => x / us.perCore[i]!) }));
    }
    bench.result.notes.push(
      `${o.runs} runs of ${o.runSeconds} s per server after ${o.warmupSeconds} s of warm-up each, ${o.concurrency} requests in flight over keep-alive connections, ${o.refreshTokens} refresh tokens per server; errors: ours ${us.errors}, bare ${b.errors}, bare+account ${bl.errors}, bare all-Redis ${br.errors}.`,
      'Per-core = grants / CPU seconds of the server process (all threads). One Node process runs one event loop: per-core figures are what scale-out multiplies.',
      `bare + account lookup: ${bl.perCore.map((x) => x.toFixed(0)).join(', ')} per core-second (the bare provider with a findAccount that reads the accounts table, as ours must to refuse disabled accounts).`,
      'bare, every model in Redis: refresh tokens, grants and sessions in Redis as well (no SQL), the configuration behind the 1,800-2,200 per core quoted for a bare oidc-provider; ours keeps them in PostgreSQL so they outlive a Redis restart.',
    );
  } finally {
    agent.destroy();
    await world.cleanup();
  }
  return bench.finish();
}

runIfMain(import.meta.url, tokenEndpoint);
