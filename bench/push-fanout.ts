/**
 * Benchmark 3: push fan-out. Encrypted (aes128gcm, RFC 8291), VAPID-signed (RFC 8292) Web Push
 * messages per second to the local push-service double, from a child process: our notifier
 * (src/push/webpush-sender.ts: VAPID header cached per push-service origin, encryption on
 * node:crypto, one HTTP/2 session per push service) versus the web-push package's default
 * sendNotification path (a new VAPID JWT per message, HTTP/1.1 keep-alive), same subscriptions,
 * same payload, runs alternating in the same child. The double speaks HTTP/2 with an HTTP/1.1
 * fallback, as FCM, Mozilla autopush and Apple's push service do; each client uses what it can.
 * Two more paths: ours (undici's keep-alive pool) and web-push to a double that speaks HTTP/1.1 only.
 *
 * The doubles answer 201 without decrypting during the timed part; before it, a few messages of
 * each go to a verifying double (VAPID checked, payload decrypted and compared).
 *
 * Run alone: node --import tsx bench/push-fanout.ts
 */
import webpush from 'web-push';
import { buildPushPayload } from '../src/push/payload.js';
import { startPushService, type PushServiceDouble } from '../test/support/push-service.js';
import { BenchChild } from './support/child.js';
import type { FanoutResult, FanoutRun } from './support/fanout-worker.js';
import { begin, median, runIfMain, log, row, type BenchResult } from './support/report.js';

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
  // Keep-alive longer than any pause between runs: a socket closed by the server while the client
  // reuses it ("socket hang up") would fail web-push's send (it does not retry) and not ours.
  const timed = await startPushService({ decrypt: false, keepAliveMs: 120_000 });
  const check = await startPushService({ keepAliveMs: 120_000 });
  const old = await startPushService({ decrypt: false, http1Only: true, keepAliveMs: 120_000 });
  const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:bench@example.com' };
  const worker = await BenchChild.start('support/fanout-worker.ts', {
    BENCH_FANOUT: JSON.stringify({ cas: [timed.ca, check.ca, old.ca], hosts: [timed.host, check.host, old.host], vapid, maxSockets: 64 }),
  }, 'fanout');
  try {
    const payload = samplePayload();
    await verifyBoth(worker, check, payload);
    log('fanout: both paths verified by the decrypting double (VAPID, aes128gcm, payload)');
    const subscriptionsOf = (d: PushServiceDouble) => Array.from({ length: o.subscriptions }, () => {
      const s = d.createSubscription();
      return { endpoint: s.endpoint, keys: s.keys };
    });
    const subscriptions = subscriptionsOf(timed);
    const oldSubscriptions = subscriptionsOf(old);
    type Path = 'ours' | 'web-push' | 'ours-http1' | 'web-push-http1';
    const run = (path: Path | 'encrypt-only' | 'post-only' | 'encrypt+post', count: number) => worker.call<FanoutResult>({
      cmd: 'run', impl: path === 'ours-http1' ? 'ours' : path === 'web-push-http1' ? 'web-push' : path,
      subscriptions: path.endsWith('-http1') ? oldSubscriptions : subscriptions,
      payload, count, concurrency: o.concurrency, topic: 'benchtopic', target: path.endsWith('-http1') ? 2 : 0,
    } satisfies FanoutRun);
    // Warm-up: JIT, TLS sessions and connections for every path.
    let ecdh = '';
    for (const path of ['ours', 'web-push', 'ours-http1', 'web-push-http1'] as const) ecdh = (await run(path, 1000)).ecdh;
    log(`fanout: our sender's ECDH: ${ecdh}`);
    const versions = { ...timed.httpVersions };
    log(`fanout: TLS connections after warm-up: ${timed.tlsConnections} (HTTP/2 and HTTP/1.1 double), ${old.tlsConnections} (HTTP/1.1-only double)`);
    if (!(versions['2.0']! >= 1000 && versions['1.1']! >= 1000 && old.httpVersions['1.1']! >= 1000)) throw new Error(`unexpected protocols: ${JSON.stringify({ versions, old: old.httpVersions })}`);

    const m = { oursRate: [] as number[], wpRate: [] as number[], oursPerCore: [] as number[], wpPerCore: [] as number[], oursUs: [] as number[], wpUs: [] as number[], h1PerCore: [] as number[], h1Us: [] as number[], wp1PerCore: [] as number[], wp1Us: [] as number[] };
    let failed = 0;
    for (let r = 0; r < o.runs; r++) {
      // Alternate which goes first, so drift on the machine does not favour one.
      const base: Path[] = ['ours', 'web-push', 'ours-http1', 'web-push-http1'];
      const order = r % 2 === 0 ? base : [...base].reverse();
      const res: Partial<Record<Path, FanoutResult>> = {};
      for (const path of order) res[path] = await run(path, o.messagesPerRun);
      for (const path of base) {
        const x = res[path]!;
        failed += x.failed;
        const rate = x.sent / (x.wallMs / 1000);
        const perCore = x.sent / (x.cpuMs / 1000);
        const us = (x.cpuMs * 1000) / x.sent;
        if (path === 'ours') { m.oursRate.push(rate); m.oursPerCore.push(perCore); m.oursUs.push(us); } else if (path === 'web-push') { m.wpRate.push(rate); m.wpPerCore.push(perCore); m.wpUs.push(us); } else if (path === 'ours-http1') { m.h1PerCore.push(perCore); m.h1Us.push(us); } else { m.wp1PerCore.push(perCore); m.wp1Us.push(us); }
        log(`fanout run ${r + 1} ${path}: ${x.sent} sent (${x.failed} failed) in ${x.wallMs.toFixed(0)} ms -> ${rate.toFixed(0)}/s, ${perCore.toFixed(0)} per CPU-second (${us.toFixed(0)} µs CPU each: user ${(x.userMs * 1000 / x.sent).toFixed(0)}, system ${(x.systemMs * 1000 / x.sent).toFixed(0)})`);
      }
      bench.result.runs.push({ run: r + 1, ...res });
    }
    if (process.env.BENCH_FANOUT_DIAG) {
      const diag: Record<string, number[]> = {};
      for (let r = 0; r < 4; r++) {
        for (const impl of ['ours', 'encrypt+post', 'encrypt-only', 'encrypt-only, node:crypto ECDH', 'post-only'] as const) {
          const x = await worker.call<FanoutResult>({ cmd: 'run', impl, subscriptions, payload, count: o.messagesPerRun, concurrency: o.concurrency, topic: 'benchtopic', target: 0 } satisfies FanoutRun);
          (diag[impl] ??= []).push(Math.round((x.cpuMs * 1000) / x.sent));
        }
      }
      log(`fanout diagnostics, µs CPU per message over 4 alternating runs: ${JSON.stringify(diag)}`);
      bench.result.config.diagnostics = diag;
    }
    const ratioPerCore = m.oursPerCore.map((x, i) => x / m.wpPerCore[i]!);
    const ratioH1 = m.h1PerCore.map((x, i) => x / m.wp1PerCore[i]!);
    const ratioRate = m.oursRate.map((x, i) => x / m.wpRate[i]!);
    bench.result.rows.push(
      row('messages per sender CPU-second', '1/s/core', m.oursPerCore, { baselineLabel: 'web-push sendNotification', baseline: m.wpPerCore, ratio: ratioPerCore, target: '>= 3.5× web-push', met: median(ratioPerCore) >= 3.5 }),
      row('messages per second (wall)', '1/s', m.oursRate, { baselineLabel: 'web-push sendNotification', baseline: m.wpRate, ratio: ratioRate, target: '>= 3× default', met: median(ratioRate) >= 3 }),
      row('sender CPU per message', 'µs', m.oursUs, { baselineLabel: 'web-push sendNotification', baseline: m.wpUs }),
    );
    bench.result.rows.push(
      row('to an HTTP/1.1-only service: messages per sender CPU-second', '1/s/core', m.h1PerCore, { baselineLabel: 'web-push, same service', baseline: m.wp1PerCore, ratio: ratioH1, target: '>= 3× web-push', met: median(ratioH1) >= 3 }),
      row('to an HTTP/1.1-only service: sender CPU per message', 'µs', m.h1Us, { baselineLabel: 'web-push, same service', baseline: m.wp1Us }),
    );
    bench.result.notes.push(
      `${o.runs} runs of ${o.messagesPerRun} messages per path, ${o.concurrency} in flight, over ${o.subscriptions} subscriptions of one push service; same payload (${Buffer.byteLength(JSON.stringify(payload))} bytes of JSON); failures: ${failed}.`,
      `Our sender's ECDH: ${ecdh === 'native' ? 'native (native/webpush-ecdh, built by npm run build: one call on Node\'s OpenSSL without node:crypto\'s repeated key checks)' : 'node:crypto (native/webpush-ecdh was not built: dist/native/build.json says why)'}. BENCH_FANOUT_DIAG=1 also times the encryption alone on each ECDH.`,
      'The double speaks HTTP/2 with an HTTP/1.1 fallback, as FCM, Mozilla autopush and Apple\'s service do: ours uses one HTTP/2 session, web-push (HTTP/1.1 only) an https.Agent with keep-alive and the same socket limit (it would otherwise use Node\'s global agent, also keep-alive). To the HTTP/1.1-only double ours uses undici\'s keep-alive pool with the same connection limit. The doubles run in the parent process on the other core and answer 201 without decrypting.',
      'Wall rate can be bounded by the double (TLS server in the load generator); messages per sender CPU-second is the figure that scales.',
    );
  } finally {
    await worker.call({ cmd: 'stop' }).catch(() => undefined);
    await timed.close();
    await check.close();
    await old.close();
  }
  return bench.finish();
}

runIfMain(import.meta.url, pushFanout);
