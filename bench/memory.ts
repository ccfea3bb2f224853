/**
 * Benchmark 5: memory. Redis bytes per pending challenge (MEMORY USAGE of its keys), and the
 * resident memory of one IdP process (a child) holding 1,000 sign-ins on the waiting page, each
 * with its long-poll open. Baseline in the same run: the same process idle after a warm-up, and
 * Redis before the sign-ins.
 *
 * Run alone: node --import tsx bench/memory.ts
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { hashPassword } from '../src/accounts/passwords.js';
import { startPushService } from '../test/support/push-service.js';
import { childArgs } from './support/child.js';
import type { ChildUsage } from './support/idp-server.js';
import { keepAliveAgent } from './support/http.js';
import { begin, median, runIfMain, log, pool, row, sleep, summarize, type BenchResult } from './support/report.js';
import { longPoll, seedPhones } from './support/signin.js';
import { parkSignIns } from './support/waiting.js';
import { createWorld, PASSWORD, REDIS_URL } from './support/world.js';
import { Redis as IORedis } from 'ioredis';

export interface MemoryOptions {
  signIns: number;
  warmup: number;
  rounds: number;
}

const defaults: MemoryOptions = {
  signIns: Number(process.env.BENCH_WAITERS ?? 1000),
  warmup: 100,
  rounds: Number(process.env.BENCH_MEMORY_ROUNDS ?? 2),
};

const MiB = 2 ** 20;

/** Resident memory split as the kernel counts it: anonymous (the process's own), file-backed (binary, libraries: shared, evictable). */
function procStatus(pid: number): { rssMiB: number; anonMiB: number; fileMiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) / 1024;
  return { rssMiB: kb('VmRSS'), anonMiB: kb('RssAnon'), fileMiB: kb('RssFile') + kb('RssShmem') };
}

/** MEMORY USAGE of every key under the prefix, grouped by kind (the key with ids taken out). */
async function keyUsage(raw: Redis, prefix: string): Promise<Map<string, { keys: number; bytes: number }>> {
  const groups = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    const p = raw.pipeline();
    for (const k of keys) p.memory('USAGE', k, 'SAMPLES', 0);
    const sizes = (await p.exec()) ?? [];
    keys.forEach((k, i) => {
      // Ids (random tokens, device ids, uuids, numbers; hash-tagged ones as {<id>}) become <id>: one group per kind of key.
      const kind = k.slice(prefix.length).split(':').map((part) => (/^(dev_)?[A-Za-z0-9_-]{16,}$|^\d+$/.test(part) ? '<id>' : /^\{[A-Za-z0-9_-]{16,}\}$/.test(part) ? '{<id>}' : part)).join(':');
      const g = groups.get(kind) ?? { keys: 0, bytes: 0 };
      g.keys++;
      g.bytes += Number(sizes[i]?.[1] ?? 0);
      groups.set(kind, g);
    });
  } while (cursor !== '0');
  return groups;
}

export async function memory(opts: Partial<MemoryOptions> = {}): Promise<BenchResult> {
  const o = { ...defaults, ...opts };
  const bench = begin('memory', `5. Memory: Redis bytes per pending challenge, and the IdP's resident memory with ${o.signIns} waiting sign-ins`, { ...o });
  const world = await createWorld('memory');
  const push = await startPushService({ decrypt: false, keepAliveMs: 120_000 });
  let agent = keepAliveAgent(4096);
  const raw = new IORedis(REDIS_URL);
  try {
    const idp = await world.startIdp({ label: 'idp', pushService: push, longPollMs: 180_000, env: { PUSH_CHALLENGE_TTL: '600' }, execArgv: ['--expose-gc', ...childArgs()] });
    const passwordHash = await hashPassword(PASSWORD);
    const all = await seedPhones(idp, { count: o.signIns + o.warmup, prefix: 'm', passwordHash, pushService: push, concurrency: 12 });
    const warm = all.slice(0, o.warmup);
    const phones = all.slice(o.warmup);
    const gcUsage = () => idp.call<ChildUsage>({ cmd: 'gc' });

    // Warm-up: a few whole sign-ins through the same paths, then the idle baseline.
    const warmParked = await parkSignIns({ agent, issuer: idp.url, phones: warm, home: () => idp.url, label: 'memory warm-up' });
    const warmPolls = warmParked.map((p) => longPoll(p.waiting, 60_000));
    await sleep(500);
    await pool(warmParked, 4, (p) => p.phone.phone.respond(p.cid, 'approve', { number: p.waiting.matchNumber, nonce: p.nonce }));
    await Promise.all(warmPolls);
    await sleep(1000);

    const rss: number[] = []; const rssIdle: number[] = []; const heap: number[] = []; const heapIdle: number[] = [];
    const rssGc: number[] = []; const perPending: number[] = []; const usedPer: number[] = [];
    const anon: number[] = []; const anonIdle: number[] = [];
    let chBytes: number[] = []; let chWithIndex: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const idle = await gcUsage();
      rssIdle.push(idle.memory.rss / MiB);
      const idleProc = procStatus(idp.pid);
      anonIdle.push(idleProc.anonMiB);
      const idleSpaces = await idp.call<{ space_name: string; space_size: number; space_used_size: number }[]>({ cmd: 'heap-spaces' });
      if (process.env.BENCH_HEAP_SNAPSHOT) log(`memory: idle heap snapshot written to ${await idp.call<string>({ cmd: 'heap-snapshot', dir: process.env.BENCH_HEAP_SNAPSHOT })}`);
      heapIdle.push(idle.memory.heapUsed / MiB);
      const redisBefore = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1] ?? 0);
      const before = await keyUsage(raw, world.redisPrefix);

      const parked = await parkSignIns({ agent, issuer: idp.url, phones, home: () => idp.url, label: `memory round ${r + 1}` });
      const polls = parked.map((p) => longPoll(p.waiting, 170_000).catch((err: unknown) => ({ status: `error ${(err as Error).message}`, reason: null, next: '' })));
      await sleep(3000); // all long-polls held
      const held = await idp.usage();
      const afterGc = await gcUsage();
      rss.push(held.memory.rss / MiB);
      heap.push(held.memory.heapUsed / MiB);
      rssGc.push(afterGc.memory.rss / MiB);
      const heldProc = procStatus(idp.pid);
      anon.push(heldProc.anonMiB);
      const heldSpaces = await idp.call<{ space_name: string; space_size: number; space_used_size: number }[]>({ cmd: 'heap-spaces' });
      // BENCH_HEAP_SNAPSHOT=<dir>: V8 heap snapshots of the IdP idle and holding the waiting sign-ins (open them in Chrome's DevTools).
      if (process.env.BENCH_HEAP_SNAPSHOT) log(`memory: holding heap snapshot written to ${await idp.call<string>({ cmd: 'heap-snapshot', dir: process.env.BENCH_HEAP_SNAPSHOT })}`);
      const spaces = (xs: typeof heldSpaces) => Object.fromEntries(xs.filter((x) => x.space_size > MiB).map((x) => [x.space_name, `${(x.space_used_size / MiB).toFixed(1)}/${(x.space_size / MiB).toFixed(1)} MiB`]));
      log(`memory round ${r + 1}: resident (kernel): idle ${idleProc.rssMiB.toFixed(1)} MiB = anon ${idleProc.anonMiB.toFixed(1)} + file ${idleProc.fileMiB.toFixed(1)}; holding ${heldProc.rssMiB.toFixed(1)} = anon ${heldProc.anonMiB.toFixed(1)} + file ${heldProc.fileMiB.toFixed(1)}; V8 spaces used/size idle ${JSON.stringify(spaces(idleSpaces))}, holding ${JSON.stringify(spaces(heldSpaces))}`);

      const redisAfter = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1] ?? 0);
      usedPer.push((redisAfter - redisBefore) / parked.length);
      const after = await keyUsage(raw, world.redisPrefix);
      const p = raw.pipeline();
      for (const x of parked) {
        p.memory('USAGE', `${world.redisPrefix}ch:${x.cid}`, 'SAMPLES', 0);
        p.memory('USAGE', `${world.redisPrefix}chu:${x.phone.accountId}`, 'SAMPLES', 0);
      }
      const sizes = ((await p.exec()) ?? []).map(([, v]) => Number(v ?? 0));
      chBytes = parked.map((_, i) => sizes[2 * i]!);
      chWithIndex = parked.map((_, i) => sizes[2 * i]! + sizes[2 * i + 1]!);
      // Everything the waiting sign-ins added, by kind of key.
      const added: Record<string, { keysPerSignIn: number; bytesPerSignIn: number }> = {};
      let total = 0;
      for (const [kind, g] of after) {
        const b = before.get(kind) ?? { keys: 0, bytes: 0 };
        if (g.bytes - b.bytes <= 0) continue;
        added[kind] = { keysPerSignIn: (g.keys - b.keys) / parked.length, bytesPerSignIn: Math.round((g.bytes - b.bytes) / parked.length) };
        total += (g.bytes - b.bytes) / parked.length;
      }
      perPending.push(total);
      log(`memory round ${r + 1}: IdP rss ${(held.memory.rss / MiB).toFixed(1)} MiB (idle ${(idle.memory.rss / MiB).toFixed(1)}; after GC ${(afterGc.memory.rss / MiB).toFixed(1)}), heap ${(held.memory.heapUsed / MiB).toFixed(1)} MiB (idle ${(idle.memory.heapUsed / MiB).toFixed(1)}); Redis per challenge: ch ${summarize(chBytes).median} B, ch+chu ${summarize(chWithIndex).median} B; all keys per waiting sign-in ${total.toFixed(0)} B: ${JSON.stringify(added)}`);
      bench.result.runs.push({ round: r + 1, idle: idle.memory, held: held.memory, heldAfterGc: afterGc.memory, idleProc, heldProc, idleSpaces, heldSpaces, redisKeysAddedPerSignIn: added, usedMemoryDeltaPerSignIn: usedPer.at(-1), challengeBytes: summarize(chBytes), challengeWithIndexBytes: summarize(chWithIndex) });

      // Release them: the phones approve, the long-polls return.
      await pool(parked, 8, (x) => x.phone.phone.respond(x.cid, 'approve', { number: x.waiting.matchNumber, nonce: x.nonce }));
      const statuses = await Promise.all(polls);
      const notApproved = statuses.filter((s) => s.status !== 'approved').length;
      if (notApproved) log(`memory round ${r + 1}: ${notApproved} long-polls did not end approved`);
      for (const x of parked) x.phone.lastUsed = performance.now();
      // The browsers leave: their idle keep-alive connections close (a production server closes
      // them after 5 s; the benchmark's server keeps them 120 s), so the next round's idle figure
      // is not 1,000 idle connections.
      agent.destroy();
      agent = keepAliveAgent(4096);
      await sleep(1000);
    }
    bench.result.rows.push(
      row('Redis bytes per pending challenge (ch: hash + chu: index)', 'B', chWithIndex, { target: '< 2048', met: median(chWithIndex) < 2048 }),
      row('Redis bytes per pending challenge (ch: hash alone)', 'B', chBytes),
      row('Redis bytes per waiting sign-in, all its keys', 'B', perPending),
      row('Redis used_memory growth per waiting sign-in', 'B', usedPer),
      row(`IdP resident memory, ${o.signIns} waiting sign-ins`, 'MiB', rss, { baselineLabel: 'same process idle', baseline: rssIdle, target: '< 150 MB (143.1 MiB)', met: median(rss) < 150e6 / MiB }),
      row(`IdP resident memory after a full GC, ${o.signIns} waiting`, 'MiB', rssGc, { baselineLabel: 'same process idle', baseline: rssIdle }),
      row(`IdP anonymous resident memory (RssAnon), ${o.signIns} waiting`, 'MiB', anon, { baselineLabel: 'same process idle', baseline: anonIdle }),
      row(`IdP JS heap used, ${o.signIns} waiting sign-ins`, 'MiB', heap, { baselineLabel: 'same process idle', baseline: heapIdle }),
    );
    bench.result.notes.push(
      `${o.rounds} round(s) of ${o.signIns} sign-ins parked on the waiting page of one IdP process with their long-polls open, after a warm-up of ${o.warmup}; the Redis rows' median (min–max) are over the ${o.signIns} challenges.`,
      `Key names carry the benchmark's prefix "${world.redisPrefix}" (${world.redisPrefix.length} characters; the default "idp:" has 4), so each key here costs about ${world.redisPrefix.length - 4} bytes more than in a default deployment.`,
      'MEMORY USAGE ... SAMPLES 0 (exact). Resident memory is the child\'s process.memoryUsage().rss; "after a full GC" is after global.gc() (child run with --expose-gc).',
    );
  } finally {
    raw.disconnect();
    agent.destroy();
    await world.cleanup();
    await push.close();
  }
  return bench.finish();
}

runIfMain(import.meta.url, memory);
