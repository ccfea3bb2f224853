/**
 * Benchmark 2: approval wake-up latency across IdP processes.
 *
 * 1,000 sign-ins wait at once on the waiting page, spread over two IdP processes (A and B, child
 * processes sharing PostgreSQL, Redis, keys and issuer); each waiting page holds its long-poll
 * (GET /interaction/:uid/push/status) on its own process, and its phone's approval is posted to
 * the other process. Measured in the parent's clock: from the approval's HTTP 200 arriving
 * ("accepted") to the long-poll's response arriving. Negative values mean the waiting page had
 * its answer before the phone had its 200 (the approving process publishes the resolution before
 * it writes the audit record and answers).
 *
 * Baseline in the same run, on the same approvals: a waiter per sign-in in the parent that re-reads
 * the challenge from Redis every second (the store's get(), phases spread at random), which is
 * what a plain poll gives.
 *
 * Run alone: node --import tsx bench/wakeup-latency.ts
 */
import { hashPassword } from '../src/accounts/passwords.js';
import { createRedisChallengeStore } from '../src/challenge/redis-store.js';
import { startPushService } from '../test/support/push-service.js';
import type { BenchChild } from './support/child.js';
import { keepAliveAgent } from './support/http.js';
import { begin, median, runIfMain, latency, log, pool, row, sleep, type BenchResult } from './support/report.js';
import { longPoll, seedPhones, type BenchPhone, type PushStatus } from './support/signin.js';
import { parkSignIns, type Parked } from './support/waiting.js';
import { createWorld, freePort, PASSWORD, REDIS_URL } from './support/world.js';
import { Redis as IORedis } from 'ioredis';

export interface WakeupOptions {
  signIns: number;
  rounds: number;
  approvalConcurrency: number;
}

const defaults: WakeupOptions = {
  signIns: Number(process.env.BENCH_WAITERS ?? 1000),
  rounds: Number(process.env.BENCH_RUNS ?? 2),
  approvalConcurrency: 4,
};

interface Timing {
  sent: number;
  accepted: number;
  /** When the parent's own subscription heard the resolution published (the IdP's channel). */
  published: number | null;
  returned: number | null;
  status: string;
  baselineSeen: number | null;
}

export async function wakeupLatency(opts: Partial<WakeupOptions> = {}): Promise<BenchResult> {
  const o = { ...defaults, ...opts };
  const bench = begin('wakeup-latency', `2. Approval wake-up latency: ${o.signIns} waiting sign-ins over two IdP processes, approvals on the other process`, { ...o });
  const world = await createWorld('wakeup');
  const push = await startPushService({ decrypt: false, keepAliveMs: 120_000 });
  const agent = keepAliveAgent(4096);
  try {
    const portA = await freePort();
    const issuer = `http://127.0.0.1:${portA}`;
    const common = { pushService: push, issuer, longPollMs: 180_000, env: { PUSH_CHALLENGE_TTL: '600' } };
    const a = await world.startIdp({ label: 'idp-A', port: portA, ...common });
    const b = await world.startIdp({ label: 'idp-B', ...common });
    const procs: BenchChild[] = [a, b];
    const passwordHash = await hashPassword(PASSWORD);
    // Sign-in i waits on procs[i % 2]; its phone talks to the other one.
    const half = Math.ceil(o.signIns / 2);
    log(`wakeup: seeding ${o.signIns} accounts and phones`);
    const approveAtB = await seedPhones(a, { count: half, prefix: 'wa', passwordHash, pushService: push, enrollBase: b.url, concurrency: 12 });
    const approveAtA = await seedPhones(a, { count: o.signIns - half, prefix: 'wb', passwordHash, pushService: push, enrollBase: a.url, concurrency: 12 });
    const phones: BenchPhone[] = Array.from({ length: o.signIns }, (_, i) => (i % 2 === 0 ? approveAtB[i / 2]! : approveAtA[(i - 1) / 2]!));
    const redis = world.redis();
    const store = createRedisChallengeStore(redis);
    // The parent listens on the IdPs' resolution channel too: when the resolution was published.
    const listener = new IORedis(REDIS_URL);
    await listener.subscribe(store.channel);

    const m = { p50: [] as number[], p99: [] as number[], max: [] as number[], bp50: [] as number[], bp99: [] as number[], bmax: [] as number[], lost: [] as number[], sentP50: [] as number[], sentP99: [] as number[], rate: [] as number[], loopP99: [] as number[], pubP50: [] as number[], pubP99: [] as number[], pubMax: [] as number[] };
    for (let r = 0; r < o.rounds; r++) {
      const parked: Parked[] = await parkSignIns({ agent, issuer, phones, home: (i) => procs[i % 2]!.url, concurrency: 12, label: `wakeup round ${r + 1}` });
      const timings: Timing[] = parked.map(() => ({ sent: 0, accepted: 0, published: null, returned: null, status: 'none', baselineSeen: null }));
      const byCid = new Map(parked.map((p, i) => [p.cid, i]));
      const onMessage = (_channel: string, message: string) => {
        const i = byCid.get((JSON.parse(message) as { id: string }).id);
        if (i !== undefined && timings[i]!.published === null) timings[i]!.published = performance.now();
      };
      listener.on('message', onMessage);

      // Every waiting page long-polls at once.
      const polls = parked.map((p, i) => longPoll(p.waiting, 170_000).then(
        (s: PushStatus) => { timings[i]!.returned = performance.now(); timings[i]!.status = s.status; },
        (err: unknown) => { timings[i]!.returned = performance.now(); timings[i]!.status = `error: ${(err as Error).message}`; },
      ));
      // The baseline: one poller per sign-in re-reading Redis every second, phases spread.
      let polling = true;
      const pollers = parked.map(async (p, i) => {
        await sleep(Math.random() * 1000);
        while (polling) {
          const ch = await store.get(p.cid).catch(() => null);
          if (ch && ch.status !== 'pending') { timings[i]!.baselineSeen = performance.now(); return; }
          await sleep(1000);
        }
      });
      await sleep(3000); // every long-poll is in, registered and subscribed
      const early = timings.filter((t) => t.returned !== null).length;
      if (early) log(`wakeup round ${r + 1}: ${early} long-polls returned before any approval (${timings.find((t) => t.returned)?.status})`);

      await Promise.all(procs.map((c) => c.call({ cmd: 'lag-reset' })));
      const t0 = performance.now();
      await pool(parked, o.approvalConcurrency, async (p, i) => {
        const t = timings[i]!;
        t.sent = performance.now();
        const res = await p.phone.phone.respond(p.cid, 'approve', { number: p.waiting.matchNumber, nonce: p.nonce });
        t.accepted = performance.now();
        if (res.status !== 200) t.status = `approval refused ${res.status} ${JSON.stringify(res.body)}`;
        p.phone.lastUsed = performance.now();
      });
      const approvalSeconds = (performance.now() - t0) / 1000;
      const loop = await Promise.all(procs.map((c) => c.usage()));
      // Give stragglers time, then count who never woke.
      const deadline = performance.now() + 15_000;
      while (timings.some((t) => t.returned === null) && performance.now() < deadline) await sleep(50);
      await sleep(1200); // the baseline's slowest poller
      polling = false;
      await Promise.race([Promise.all(polls), sleep(1000)]);
      await Promise.all(pollers);
      listener.off('message', onMessage);

      const woke = timings.filter((t) => t.status === 'approved' && t.returned !== null);
      const lost = timings.length - woke.length;
      const lat = latency(woke.map((t) => t.returned! - t.accepted));
      const fromSent = latency(woke.map((t) => t.returned! - t.sent));
      const base = latency(timings.filter((t) => t.baselineSeen !== null).map((t) => t.baselineSeen! - t.accepted));
      const fromPublished = latency(woke.filter((t) => t.published !== null).map((t) => t.returned! - t.published!));
      m.p50.push(lat.p50); m.p99.push(lat.p99); m.max.push(lat.max);
      m.bp50.push(base.p50); m.bp99.push(base.p99); m.bmax.push(base.max);
      m.lost.push(lost); m.sentP50.push(fromSent.p50); m.sentP99.push(fromSent.p99);
      m.pubP50.push(fromPublished.p50); m.pubP99.push(fromPublished.p99); m.pubMax.push(fromPublished.max);
      m.rate.push(parked.length / approvalSeconds);
      m.loopP99.push(Math.max(...loop.map((u) => u.loopDelay.p99)));
      const problems = timings.filter((t) => t.status !== 'approved').slice(0, 3).map((t) => t.status);
      log(`wakeup round ${r + 1}: ${woke.length}/${timings.length} woke; accepted->returned p50 ${lat.p50.toFixed(1)} p99 ${lat.p99.toFixed(1)} max ${lat.max.toFixed(1)} ms (min ${lat.min.toFixed(1)}); sent->returned p50 ${fromSent.p50.toFixed(1)} p99 ${fromSent.p99.toFixed(1)}; published->returned p50 ${fromPublished.p50.toFixed(1)} p99 ${fromPublished.p99.toFixed(1)} max ${fromPublished.max.toFixed(1)}; baseline p50 ${base.p50.toFixed(0)} p99 ${base.p99.toFixed(0)} max ${base.max.toFixed(0)} ms; ${m.rate.at(-1)!.toFixed(0)} approvals/s; event-loop p99 A ${loop[0]!.loopDelay.p99.toFixed(1)} B ${loop[1]!.loopDelay.p99.toFixed(1)} ms${problems.length ? `; e.g. ${problems.join(' | ')}` : ''}`);
      bench.result.runs.push({ round: r + 1, waiting: timings.length, woke: woke.length, lost, acceptedToReturned: lat, sentToReturned: fromSent, publishedToReturned: fromPublished, baseline: base, approvalsPerSecond: m.rate.at(-1), eventLoopDelay: loop.map((u) => u.loopDelay) });
    }
    const worst = (xs: number[]) => Math.max(...xs);
    bench.result.rows.push(
      row('approval accepted -> waiting page answered, p50', 'ms', m.p50, { baselineLabel: 're-read Redis every 1 s', baseline: m.bp50 }),
      row('approval accepted -> waiting page answered, p99', 'ms', m.p99, { baselineLabel: 're-read Redis every 1 s', baseline: m.bp99, target: '< 20', met: median(m.p99) < 20 }),
      row('approval accepted -> waiting page answered, max', 'ms', m.max, { baselineLabel: 're-read Redis every 1 s', baseline: m.bmax }),
      row('resolution published -> waiting page answered, p50', 'ms', m.pubP50),
      row('resolution published -> waiting page answered, p99', 'ms', m.pubP99),
      row('resolution published -> waiting page answered, max', 'ms', m.pubMax),
      row('approval sent -> waiting page answered, p50', 'ms', m.sentP50),
      row('approval sent -> waiting page answered, p99', 'ms', m.sentP99),
      row('waiters lost (never woke approved)', 'count', m.lost, { target: '0', met: worst(m.lost) === 0 }),
      row('approvals per second (during the timed part)', '1/s', m.rate),
      row('event-loop delay p99, worse of A and B', 'ms', m.loopP99),
    );
    bench.result.notes.push(
      `${o.rounds} rounds; each: ${o.signIns} sign-ins parked on the waiting page (half on A, half on B), all long-polls held at once, then the phones approve, ${o.approvalConcurrency} at a time, each on the process that does not hold its page.`,
      'Both timestamps are taken in the parent (load generator) process: the approval\'s HTTP 200 arriving, and the long-poll response arriving. Negative: the page was answered before the phone got its 200.',
      '"Resolution published": the parent\'s own subscription to the IdPs\' Redis channel heard the resolution (the approving process publishes it inside the resolve script, before its audit write and its 200).',
      'Baseline pollers run in the parent and read Redis directly (no HTTP hop), so they are, if anything, flattered.',
    );
    await redis.quit();
    listener.disconnect();
  } finally {
    agent.destroy();
    await world.cleanup();
    await push.close();
  }
  return bench.finish();
}

runIfMain(import.meta.url, wakeupLatency);
