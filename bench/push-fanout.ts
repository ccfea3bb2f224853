/**
 * Benchmark 3: push fan-out. Encrypted (aes128gcm, RFC 8291), VAPID-signed (RFC 8292) Web Push
 * messages per second to the local push-service double, from a child process: our notifier
 * (src/push/webpush-sender.ts: VAPID header cached per push-service origin, keep-alive agent)
 * versus the web-push package's default sendNotification path (a new VAPID JWT per message),
 * same subscriptions, same payload, runs alternating in the same child.
 *
 * The double answers 201 without decrypting during the timed part; before it, a few messages of
 * each go to a second, verifying double (VAPID checked, payload decrypted and compared).
 *
 * Run alone: node --import tsx bench/push-fanout.ts
 */
import webpush from 'web-push';
import { buildPushPayload } from '../src/push/payload.js';
import { startPushService, type PushServiceDouble } from '../test/support/push-service.js';
import { BenchChild } from './support/child.js';
import { startH2Double } from './support/h2-double.js';
import type { FanoutResult, FanoutRun } from './support/fanout-worker.js';
import { begin, median, isMain, log, row, type BenchResult } from './support/report.js';

export interface FanoutOptions {
  runs: number;
  messagesPerRun: number;
  concurrency: number;
  subscriptions: number;
}

const defaults: FanoutOptions = {
  runs: Number(process.env.BENCH_RUNS ?? 5),
  messagesPerRun: Number(process.env.BENCH_FANOUT_MESSAGES ?? 3000),
  concurrency: Number(process.env.BENCH_FANOUT_CONCURRENCY ?? 64),
  subscriptions: 200,
};

function samplePayload() {
  const now = Date.now();
  return buildPushPayload({
    id: 'x7Jq0m1b2Vn3Cz4Lk5Hg6F', appName: 'Bench RP', ip: '203.0.113.7', browser: 'Chrome on Linux', location: 'Berlin, Germany',
    createdAt: now, expiresAt: now + 120_000, matchNumber: 42,
  }, { issuer: 'https://idp.example.com', deviceId: 'dev_3pQ1xY2zW9vU8tS7rR6qP5' });
}

async function verifyBoth(worker: BenchChild, check: PushServiceDouble, payload: ReturnType<typeof samplePayload>) {
  const subs = Array.from({ length: 5 }, () => check.createSubscription());
  for (const impl of ['ours', 'web-push'] as const) {
    const before = check.messages.length;
    const r = await worker.call<FanoutResult>({ cmd: 'run', impl, subscriptions: subs, payload, count: 10, concurrency: 5, topic: 'benchtopic', target: 1 } satisfies FanoutRun);
    const got = check.messages.slice(before);
    if (r.sent !== 10 || got.length !== 10) throw new Error(`${impl}: ${r.sent} sent, ${got.length} verified by the double; ${r.failures.join(' | ')} ${check.requests.filter((q) => q.reason).map((q) => q.reason).join(' | ')}`);
    for (const m of got) {
      if (JSON.stringify(m.payload) !== JSON.stringify(payload)) throw new Error(`${impl}: the decrypted payload differs`);
    }
  }
}

export async function pushFanout(opts: Partial<FanoutOptions> = {}): Promise<BenchResult> {
  const o = { ...defaults, ...opts };
  const bench = begin('push-fanout', '3. Push fan-out: encrypted, VAPID-signed Web Push to the local push-service double (sender in a child process)', { ...o });
  const timed = await startPushService({ decrypt: false });
  const check = await startPushService();
  // Longer than any pause between runs: a keep-alive socket closed by the server while the client
  // reuses it ("socket hang up") would fail web-push's send (it does not retry) and not ours.
  for (const d of [timed, check]) d.server.keepAliveTimeout = 120_000;
  const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:bench@example.com' };
  // BENCH_FANOUT_H2=1: also the scratch experiment "ours over HTTP/2" against an HTTP/2 double.
  const h2 = process.env.BENCH_FANOUT_H2 === '1' ? await startH2Double() : null;
  const worker = await BenchChild.start('support/fanout-worker.ts', {
    BENCH_FANOUT: JSON.stringify({ cas: [timed.ca, check.ca], vapid, maxSockets: 64, ...(h2 ? { h2ca: h2.ca } : {}) }),
  }, 'fanout');
  try {
    const payload = samplePayload();
    await verifyBoth(worker, check, payload);
    log('fanout: both paths verified by the decrypting double (VAPID, aes128gcm, payload)');
    const subscriptions = Array.from({ length: o.subscriptions }, () => {
      const s = timed.createSubscription();
      return { endpoint: s.endpoint, keys: s.keys };
    });
    const h2Subscriptions = h2 ? Array.from({ length: o.subscriptions }, () => h2.createSubscription()) : [];
    const run = (impl: FanoutRun['impl'], count: number) => worker.call<FanoutResult>({
      cmd: 'run', impl, subscriptions: impl === 'ours-h2' ? h2Subscriptions : subscriptions, payload, count, concurrency: o.concurrency, topic: 'benchtopic', target: 0,
    } satisfies FanoutRun);
    if (h2) {
      h2.verify = true;
      const x = await run('ours-h2', 20);
      if (x.sent !== 20 || h2.decrypted.length !== 20 || h2.decrypted.some((d) => d !== JSON.stringify(payload))) throw new Error(`ours-h2 did not deliver: ${JSON.stringify(x)}`);
      h2.verify = false;
      log('fanout: the HTTP/2 experiment verified by its double (decrypted payloads)');
    }
    // Warm-up: JIT, TLS sessions and keep-alive connections for both.
    await run('ours', 1000);
    await run('web-push', 1000);
    if (h2) await run('ours-h2', 1000);

    const m = { oursRate: [] as number[], wpRate: [] as number[], oursPerCore: [] as number[], wpPerCore: [] as number[], oursUs: [] as number[], wpUs: [] as number[], h2PerCore: [] as number[], h2Us: [] as number[] };
    let failed = 0;
    for (let r = 0; r < o.runs; r++) {
      // Alternate which goes first, so drift on the machine does not favour one.
      const base: FanoutRun['impl'][] = h2 ? ['ours', 'web-push', 'ours-h2'] : ['ours', 'web-push'];
      const order = r % 2 === 0 ? base : [...base].reverse();
      const res: Record<string, FanoutResult> = {};
      for (const impl of order) res[impl] = await run(impl, o.messagesPerRun);
      for (const [impl, x] of Object.entries(res)) {
        failed += x.failed;
        const rate = x.sent / (x.wallMs / 1000);
        const perCore = x.sent / (x.cpuMs / 1000);
        const us = (x.cpuMs * 1000) / x.sent;
        if (impl === 'ours') { m.oursRate.push(rate); m.oursPerCore.push(perCore); m.oursUs.push(us); } else if (impl === 'web-push') { m.wpRate.push(rate); m.wpPerCore.push(perCore); m.wpUs.push(us); } else { m.h2PerCore.push(perCore); m.h2Us.push(us); }
        log(`fanout run ${r + 1} ${impl}: ${x.sent} sent (${x.failed} failed) in ${x.wallMs.toFixed(0)} ms -> ${rate.toFixed(0)}/s, ${perCore.toFixed(0)} per CPU-second (${us.toFixed(0)} µs CPU each: user ${(x.userMs * 1000 / x.sent).toFixed(0)}, system ${(x.systemMs * 1000 / x.sent).toFixed(0)})`);
      }
      bench.result.runs.push({ run: r + 1, ...res });
    }
    if (process.env.BENCH_FANOUT_DIAG) {
      const diag: Record<string, number[]> = {};
      for (let r = 0; r < 4; r++) {
        for (const impl of ['ours', 'encrypt+post', 'encrypt-only', 'post-only'] as const) {
          const x = await worker.call<FanoutResult>({ cmd: 'run', impl, subscriptions, payload, count: o.messagesPerRun, concurrency: o.concurrency, topic: 'benchtopic', target: 0 } satisfies FanoutRun);
          (diag[impl] ??= []).push(Math.round((x.cpuMs * 1000) / x.sent));
        }
      }
      log(`fanout diagnostics, µs CPU per message over 4 alternating runs: ${JSON.stringify(diag)}`);
      bench.result.config.diagnostics = diag;
    }
    const ratioPerCore = m.oursPerCore.map((x, i) => x / m.wpPerCore[i]!);
    const ratioRate = m.oursRate.map((x, i) => x / m.wpRate[i]!);
    bench.result.rows.push(
      row('messages per sender CPU-second', '1/s/core', m.oursPerCore, { baselineLabel: 'web-push sendNotification', baseline: m.wpPerCore, ratio: ratioPerCore, target: '>= 3× default', met: median(ratioPerCore) >= 3 }),
      row('messages per second (wall)', '1/s', m.oursRate, { baselineLabel: 'web-push sendNotification', baseline: m.wpRate, ratio: ratioRate, target: '>= 3× default', met: median(ratioRate) >= 3 }),
      row('sender CPU per message', 'µs', m.oursUs, { baselineLabel: 'web-push sendNotification', baseline: m.wpUs }),
    );
    if (h2) {
      bench.result.rows.push(
        row('experiment: ours over HTTP/2, messages per sender CPU-second', '1/s/core', m.h2PerCore, { baselineLabel: 'web-push sendNotification', baseline: m.wpPerCore, ratio: m.h2PerCore.map((x, i) => x / m.wpPerCore[i]!) }),
        row('experiment: ours over HTTP/2, sender CPU per message', 'µs', m.h2Us, { baselineLabel: 'ours (HTTP/1.1)', baseline: m.oursUs, ratio: m.h2Us.map((x, i) => x / m.oursUs[i]!) }),
      );
      bench.result.notes.push('Experiment (not the shipped sender): ours over HTTP/2, one session per push-service origin, to an HTTP/2 double in the parent (bench/support/h2-double.ts); see bench/support/fanout-worker.ts sendH2.');
    }
    bench.result.notes.push(
      `${o.runs} runs of ${o.messagesPerRun} messages per path, ${o.concurrency} in flight, over ${o.subscriptions} subscriptions of one push service; same payload (${Buffer.byteLength(JSON.stringify(payload))} bytes of JSON); failures: ${failed}.`,
      'Both paths use an https.Agent with keep-alive trusting the double\'s certificate (web-push would otherwise use Node\'s global agent, also keep-alive); the double runs in the parent process on the other core and answers 201 without decrypting.',
      'Wall rate can be bounded by the double (TLS server in the load generator); messages per sender CPU-second is the figure that scales.',
    );
  } finally {
    await worker.call({ cmd: 'stop' }).catch(() => undefined);
    await timed.close();
    await check.close();
    await h2?.close();
  }
  return bench.finish();
}

if (isMain(import.meta.url)) {
  pushFanout().then(() => process.exit(0), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
