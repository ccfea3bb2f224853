/**
 * `npm run bench`: every benchmark in turn against the PostgreSQL and Redis on 127.0.0.1 (or
 * BENCH_DATABASE_URL / BENCH_REDIS_URL), each printing its table and writing
 * bench/results/<name>.json; then one summary table and bench/results/summary.json.
 *
 *   npm run bench                      all ten
 *   npm run bench -- token fanout      only those (names: signin, wakeup, fanout, token, memory, saml, radius, held, scale, plumbing)
 *
 * Each is also runnable alone: node --import tsx bench/<file>.ts. Not part of `npm test`.
 */
import { execSync } from 'node:child_process';
import { heldSignIns } from './held-signins.js';
import { memory } from './memory.js';
import { pushFanout } from './push-fanout.js';
import { radiusThroughput } from './radius-throughput.js';
import { requestPlumbing } from './request-plumbing.js';
import { samlSigning } from './saml-signing.js';
import { signinThroughput } from './signin-throughput.js';
import { projectDir } from './support/child.js';
import { begin, log, type BenchResult } from './support/report.js';
import { tokenEndpoint } from './token-endpoint.js';
import { waitingScale } from './waiting-scale.js';
import { wakeupLatency } from './wakeup-latency.js';

const all: Record<string, () => Promise<BenchResult>> = {
  signin: () => signinThroughput(),
  wakeup: () => wakeupLatency(),
  fanout: () => pushFanout(),
  token: () => tokenEndpoint(),
  memory: () => memory(),
  saml: () => samlSigning(),
  radius: () => radiusThroughput(),
  held: () => heldSignIns(),
  scale: () => waitingScale(),
  plumbing: () => requestPlumbing(),
};

function gitState(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: projectDir, encoding: 'utf8' }).trim();
    const dirty = execSync('git status --porcelain -- src', { cwd: projectDir, encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
    return dirty ? `${head} with ${dirty} changed file(s) under src/` : head;
  } catch {
    return 'unknown';
  }
}

async function main() {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : Object.keys(all);
  for (const n of names) if (!all[n]) throw new Error(`unknown benchmark "${n}"; known: ${Object.keys(all).join(', ')}`);
  const summary = begin('summary', 'Summary: every figure with a target', { benchmarks: names, source: gitState() });
  const failed: string[] = [];
  for (const n of names) {
    log(`=== ${n} ===`);
    try {
      const r = await all[n]!();
      for (const row of r.rows) if (row.target) summary.result.rows.push({ ...row, metric: `${n}: ${row.metric}` });
    } catch (err) {
      failed.push(n);
      console.error(`benchmark ${n} failed:`, err);
      summary.result.notes.push(`${n} failed: ${(err as Error).message}`);
    }
  }
  summary.result.notes.push(`source: ${gitState()}`);
  summary.finish();
  if (failed.length) process.exitCode = 1;
}

main().then(() => process.exit(process.exitCode ?? 0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
