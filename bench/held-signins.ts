/**
 * Benchmark 6 (issue 14, item 7): 1,000 pending sign-ins held for a minute across three IdP
 * processes on one Redis, then approved.
 *
 * Three IdP child processes share PostgreSQL, Redis, keys and issuer. Sign-in i parks on the
 * waiting page of process i % 3; its waiting page long-polls its own process and polls again each
 * time a long-poll ends still pending (as views/static/push-wait.js does), for BENCH_HOLD_SECONDS
 * (60). Then every phone approves on the next process ((i + 1) % 3). Printed: approvals lost (a
 * waiting page that never heard "approved"; must be 0), errors (any refused approval, failed
 * long-poll or non-pending answer while holding), and each process's RSS and V8 heap at start
 * (idle after warm-up), mid-hold, end of hold and after the approvals (and after a forced GC when
 * the child runs with --expose-gc). Not a test: no figure here is asserted.
 *
 * Run: npm run bench -- held   or   node --import tsx bench/held-signins.ts
 * Knobs: BENCH_HELD (1000), BENCH_HOLD_SECONDS (60), BENCH_LONG_POLL_MS (20000).
 */
import { hashPassword } from '../src/accounts/passwords.js';
import { startPushService } from '../test/support/push-service.js';
import { childArgs, type BenchChild } from './support/child.js';
import type { ChildUsage } from './support/idp-server.js';
import { keepAliveAgent } from './support/http.js';
import { begin, log, pool, row, runIfMain, sleep, type BenchResult } from './support/report.js';
import { longPoll, seedPhones, type BenchPhone, type PushStatus } from './support/signin.js';
import { parkSignIns } from './support/waiting.js';
import { createWorld, freePort, PASSWORD } from './support/world.js';

export interface HeldOptions {
  signIns: number;
  holdSeconds: number;
  longPollMs: number;
}

const defaults: HeldOptions = {
  signIns: Number(process.env.BENCH_HELD ?? 1000),
  holdSeconds: Number(process.env.BENCH_HOLD_SECONDS ?? 60),
  longPollMs: Number(process.env.BENCH_LONG_POLL_MS ?? 20_000),
};

const MiB = (n: number) => n / 1024 / 1024;

export async function heldSignIns(opts: Partial<HeldOptions> = {}): Promise<BenchResult> {
  const o = { ...defaults, ...opts };
  const bench = begin('held-signins', `6. ${o.signIns} pending sign-ins held ${o.holdSeconds} s over three IdP processes on one Redis, then approved`, { ...o });
  const world = await createWorld('held');
  const push = await startPushService({ decrypt: false, keepAliveMs: 180_000 });
  const agent = keepAliveAgent(4096);
  try {
    const port0 = await freePort();
    const issuer = `http://127.0.0.1:${port0}`;
    const common = { pushService: push, issuer, longPollMs: o.longPollMs, env: { PUSH_CHALLENGE_TTL: String(o.holdSeconds * 3 + 300) }, execArgv: [...childArgs(), '--expose-gc'] };
    const procs: BenchChild[] = [
      await world.startIdp({ label: 'idp-1', port: port0, ...common }),
      await world.startIdp({ label: 'idp-2', ...common }),
      await world.startIdp({ label: 'idp-3', ...common }),
    ];
    const passwordHash = await hashPassword(PASSWORD);
    log(`held: seeding ${o.signIns} accounts and phones`);
    // Phone i enrolls at, and later approves on, process (i + 1) % 3.
    const phones: BenchPhone[] = [];
    const byHome: BenchPhone[][] = [];
    for (let h = 0; h < 3; h++) {
      const count = Math.floor(o.signIns / 3) + (h < o.signIns % 3 ? 1 : 0);
      byHome.push(await seedPhones(procs[0]!, { count, prefix: `held${h}`, passwordHash, pushService: push, enrollBase: procs[(h + 1) % 3]!.url, concurrency: 12 }));
    }
    for (let i = 0; i < o.signIns; i++) phones.push(byHome[i % 3]![Math.floor(i / 3)]!);

    const memory: { stage: string; usage: ChildUsage[] }[] = [];
    const snap = async (stage: string, gc = false) => {
      const usage = await Promise.all(procs.map((c) => c.call<ChildUsage>({ cmd: gc ? 'gc' : 'usage' })));
      memory.push({ stage, usage });
      log(`held: memory ${stage}: ${usage.map((u, i) => `idp-${i + 1} rss ${MiB(u.memory.rss).toFixed(0)} MiB heap ${MiB(u.memory.heapUsed).toFixed(0)} MiB`).join('; ')}`);
    };
    await snap('start (idle, after seeding)');
    await snap('start, after GC', true);

    const parked = await parkSignIns({ agent, issuer, phones, home: (i) => procs[i % 3]!.url, concurrency: 12, label: 'held' });
    const errors: string[] = [];
    const final: (PushStatus | null)[] = parked.map(() => null);
    let repolls = 0;
    const holdUntil = performance.now() + o.holdSeconds * 1000;
    // Each waiting page long-polls its own process until it hears an answer.
    const pages = parked.map(async (p, i) => {
      for (;;) {
        let s: PushStatus;
        try {
          s = await longPoll(p.waiting, o.longPollMs + 60_000);
        } catch (err) {
          errors.push(`long-poll ${i}: ${(err as Error).message}`);
          if (performance.now() > holdUntil + 300_000) return;
          await sleep(1000);
          continue;
        }
        if (s.status !== 'pending') {
          final[i] = s;
          if (performance.now() < holdUntil) errors.push(`sign-in ${i} answered ${s.status} (${s.reason}) while held`);
          return;
        }
        repolls++;
      }
    });
    await sleep((o.holdSeconds * 1000) / 2);
    await snap(`mid-hold (${o.holdSeconds / 2} s)`);
    await sleep(Math.max(0, holdUntil - performance.now()));
    await snap(`end of hold (${o.holdSeconds} s)`);

    log(`held: approving ${parked.length}`);
    const t0 = performance.now();
    await pool(parked, 8, async (p, i) => {
      const res = await p.phone.phone.respond(p.cid, 'approve', { number: p.waiting.matchNumber, nonce: p.nonce }).catch((err: unknown) => ({ status: 0, body: { error: (err as Error).message } }));
      if (res.status !== 200 || (res.body as { status?: string }).status !== 'approved') errors.push(`approval ${i}: ${res.status} ${JSON.stringify(res.body)}`);
    });
    const approveSeconds = (performance.now() - t0) / 1000;
    await Promise.race([Promise.all(pages), sleep(o.longPollMs + 90_000)]);
    const lost = final.filter((s) => s?.status !== 'approved').length;
    await snap('after approvals');
    await snap('after approvals, after GC', true);

    const at = (stage: number, proc: number) => memory[stage]!.usage[proc]!.memory;
    const growth = (field: 'rss' | 'heapUsed') => procs.map((_, p) => MiB(at(5, p)[field] - at(1, p)[field]));
    log(`held: ${parked.length} held ${o.holdSeconds} s, ${repolls} re-polls; lost approvals ${lost}; errors ${errors.length}${errors.length ? ` (e.g. ${errors.slice(0, 3).join(' | ')})` : ''}; approvals took ${approveSeconds.toFixed(1)} s`);
    bench.result.rows.push(
      row('approvals lost (waiting page never heard "approved")', 'count', [lost], { target: '0', met: lost === 0 }),
      row('errors (refused approvals, failed long-polls, early answers)', 'count', [errors.length], { target: '0', met: errors.length === 0 }),
      row('long-polls that ended pending and were sent again', 'count', [repolls]),
      row('approvals per second', '1/s', [parked.length / approveSeconds]),
    );
    for (const [s, { stage }] of memory.entries()) {
      bench.result.rows.push(row(`RSS, ${stage} (idp-1, idp-2, idp-3)`, 'MiB', procs.map((_, p) => MiB(at(s, p).rss))));
      bench.result.rows.push(row(`V8 heap used, ${stage} (idp-1, idp-2, idp-3)`, 'MiB', procs.map((_, p) => MiB(at(s, p).heapUsed))));
    }
    bench.result.rows.push(
      row('RSS growth, start after GC -> after approvals after GC (per process)', 'MiB', growth('rss')),
      row('heap growth, start after GC -> after approvals after GC (per process)', 'MiB', growth('heapUsed'), { target: '< 20 (flat)', met: Math.max(...growth('heapUsed')) < 20 }),
    );
    bench.result.runs.push({ memory: memory.map((m) => ({ stage: m.stage, rss: m.usage.map((u) => u.memory.rss), heapUsed: m.usage.map((u) => u.memory.heapUsed) })), lost, errors: errors.slice(0, 50), repolls });
    bench.result.notes.push(
      `Sign-in i waits on idp-(i mod 3 + 1) and its phone approves on the next process; the long-poll lasts ${o.longPollMs} ms and is sent again while pending.`,
      'Memory: process.memoryUsage() in each child; "after GC" readings follow a forced global.gc() (the children run with --expose-gc).',
    );
  } finally {
    agent.destroy();
    await world.cleanup();
    await push.close();
  }
  return bench.finish();
}

runIfMain(import.meta.url, heldSignIns);
