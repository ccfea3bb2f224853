/**
 * Benchmark 10: what one HTTP request costs before any sign-in work (issue 15, target 1's "why").
 *
 * A push sign-in is twelve HTTP requests to the IdP; this measures the part of each that is plumbing:
 * IdP CPU per request (process CPU, all threads) for requests that do no storage work, through our
 * IdP (createIdp: request id, drain, locale, error edge, origin pin, client IP, security headers,
 * hostile-input checks, the routers, then oidc-provider) and through a bare oidc-provider on the same
 * storage, in the same run, alternating:
 * - discovery (`/.well-known/openid-configuration`): the same document from both; the difference is
 *   our Koa stack in front of oidc-provider;
 * - a path neither serves (404): ours walks every router before oidc-provider's 404;
 * - ours `/healthz`: the least page through our middleware (no I/O).
 *
 * Run alone: node --import tsx bench/request-plumbing.ts
 */
import type { BenchChild } from './support/child.js';
import { cpuOver } from './support/child.js';
import { keepAliveAgent, request } from './support/http.js';
import { begin, log, median, row, runIfMain, type BenchResult } from './support/report.js';
import { createWorld, RP_CALLBACK, RP_SECRET } from './support/world.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 4);
const REQUESTS = Number(process.env.BENCH_PLUMBING_REQUESTS ?? 5000);
const CONCURRENCY = 16;

interface Probe {
  name: string;
  child: BenchChild;
  path: string;
  status: number;
  cpuUs: number[];
}

async function drive(agent: ReturnType<typeof keepAliveAgent>, p: Probe, count: number): Promise<void> {
  let sent = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (sent < count) {
      sent++;
      const res = await request(agent, 'GET', `${p.child.url}${p.path}`);
      if (res.status !== p.status) throw new Error(`${p.name}: ${p.path} answered ${res.status}, expected ${p.status}: ${res.body.slice(0, 200)}`);
    }
  }));
}

export async function requestPlumbing(): Promise<BenchResult> {
  const bench = begin('request-plumbing', '10. Plumbing: IdP CPU per HTTP request that does no storage work, ours vs a bare oidc-provider', { runs: RUNS, requests: REQUESTS, concurrency: CONCURRENCY });
  const world = await createWorld('plumbing');
  const agent = keepAliveAgent(CONCURRENCY * 2);
  try {
    const ours = await world.startIdp({ label: 'ours' });
    const bare = await world.startBare({
      label: 'bare',
      client: { client_id: 'bench-rp', client_secret: RP_SECRET, redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], response_types: ['code'] },
    });
    const probes: Probe[] = [
      { name: 'ours, discovery', child: ours, path: '/.well-known/openid-configuration', status: 200, cpuUs: [] },
      { name: 'bare, discovery', child: bare, path: '/.well-known/openid-configuration', status: 200, cpuUs: [] },
      { name: 'ours, 404', child: ours, path: '/no-such-page', status: 404, cpuUs: [] },
      { name: 'bare, 404', child: bare, path: '/no-such-page', status: 404, cpuUs: [] },
      { name: 'ours, /healthz', child: ours, path: '/healthz', status: 200, cpuUs: [] },
    ];
    for (const p of probes) await drive(agent, p, 1000); // warm-up (and the status each answers is checked)
    for (let r = 0; r < RUNS; r++) {
      for (const p of r % 2 === 0 ? probes : [...probes].reverse()) {
        const { cpuSeconds: [cpu] } = await cpuOver([p.child], () => drive(agent, p, REQUESTS));
        p.cpuUs.push((cpu! * 1e6) / REQUESTS);
      }
      log(`plumbing run ${r + 1}: ${probes.map((p) => `${p.name} ${p.cpuUs.at(-1)!.toFixed(0)} µs`).join(', ')}`);
    }
    const [od, bd, o404, b404, health] = probes as [Probe, Probe, Probe, Probe, Probe];
    bench.result.rows.push(
      row('IdP CPU per discovery request', 'µs', od.cpuUs, { baselineLabel: 'bare oidc-provider', baseline: bd.cpuUs, ratio: od.cpuUs.map((x, i) => x / bd.cpuUs[i]!) }),
      row('IdP CPU per request to an unknown path (404)', 'µs', o404.cpuUs, { baselineLabel: 'bare oidc-provider', baseline: b404.cpuUs, ratio: o404.cpuUs.map((x, i) => x / b404.cpuUs[i]!) }),
      row('IdP CPU per GET /healthz (ours only)', 'µs', health.cpuUs),
    );
    const extra = median(od.cpuUs) - median(bd.cpuUs);
    bench.result.notes.push(
      `${RUNS} runs of ${REQUESTS} requests per probe, ${CONCURRENCY} in flight over keep-alive connections, after 1,000 of warm-up each.`,
      `Our stack in front of oidc-provider costs ${extra.toFixed(0)} µs per request at the median (discovery, ours minus bare); over the twelve requests of a push sign-in about ${(extra * 12 / 1000).toFixed(1)} ms, and the whole of each request's plumbing (ours /healthz: ${median(health.cpuUs).toFixed(0)} µs) about ${(median(health.cpuUs) * 12 / 1000).toFixed(1)} ms.`,
    );
  } finally {
    agent.destroy();
    await world.cleanup();
  }
  return bench.finish();
}

runIfMain(import.meta.url, requestPlumbing);
