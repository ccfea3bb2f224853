/**
 * The parent's side of a benchmark child (bench/support/idp-server.ts or fanout-worker.ts): fork
 * with tsx, wait until it listens, ask it things over IPC, and measure the CPU it used between two
 * points (process.cpuUsage() reported by the child itself, which covers all of its threads).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildCommand, ChildConfig, ChildUsage } from './idp-server.js';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const projectDir = path.resolve(benchDir, '..');

/** Extra node flags for every child, e.g. BENCH_CHILD_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
/** The node flags of `npm start` (package.json), so the children run the IdP as production does. */
export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((w) => w.startsWith('--'));
}

/** `npm start`'s node flags, then BENCH_CHILD_ARGS (a later flag of the same name wins). */
export function childArgs(): string[] {
  return [...startFlags(), ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean)];
}

export class BenchChild {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private constructor(readonly proc: ChildProcess, readonly url: string, readonly label: string) {
    proc.on('message', (msg: { id?: number; result?: unknown; error?: string }) => {
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(`${label}: ${msg.error}`));
      else p.resolve(msg.result);
    });
    proc.on('exit', (code) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`${label} exited (${code})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /**
   * Forks `script` (relative to bench/) and waits for its `{ ready, url }` message. The script and
   * the src/ it imports are compiled first (esbuild, packages left external) and run by plain node,
   * as `node dist/src/main.js` runs in production: tsx's loader thread (a second V8 isolate) would
   * otherwise sit in the child's memory and CPU figures. BENCH_TSX=1 runs the .ts through tsx.
   */
  static async start(script: string, env: Record<string, string>, label: string, execArgv: string[] = childArgs()): Promise<BenchChild> {
    const viaTsx = process.env.BENCH_TSX === '1';
    const entry = viaTsx ? path.join(benchDir, script) : await compiled(script);
    const proc = fork(entry, [], {
      cwd: projectDir,
      // Source maps only on request (BENCH_SOURCE_MAPS=1, for readable stacks): production runs
      // without them, and the loaded map of the bundle would sit in the memory figures.
      execArgv: [...(viaTsx ? ['--import', 'tsx'] : process.env.BENCH_SOURCE_MAPS === '1' ? ['--enable-source-maps'] : []), ...execArgv],
      env: { ...process.env, ...env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} did not start within 60 s`)), 60_000);
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${label} exited during start (${code})`)); });
      proc.on('message', (msg: { ready?: boolean; url?: string }) => {
        if (msg.ready) { clearTimeout(timer); resolve(msg.url ?? ''); }
      });
    });
    return new BenchChild(proc, url, label);
  }

  static startIdp(config: ChildConfig, label: string, execArgv: string[] = childArgs()): Promise<BenchChild> {
    return BenchChild.start('support/idp-server.ts', { ...config.processEnv, BENCH_CHILD: JSON.stringify(config) }, label, execArgv);
  }

  call<T>(command: ChildCommand | Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...command, id });
    });
  }

  usage(): Promise<ChildUsage> {
    return this.call<ChildUsage>({ cmd: 'usage' });
  }

  /** CPU seconds (user + system, all threads) the child used, read from /proc: no IPC round trip. */
  procCpuSeconds(): number {
    return procCpuSeconds(this.pid);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    await this.call({ cmd: 'stop' }).catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

const builds = new Map<string, Promise<string>>();

/** bench/<script>.ts bundled with what it imports from src/ into bench/results/.build/ (once per run). */
function compiled(script: string): Promise<string> {
  let out = builds.get(script);
  if (!out) {
    const outfile = path.join(benchDir, 'results', '.build', script.replace(/\.ts$/, '.mjs'));
    mkdirSync(path.dirname(outfile), { recursive: true });
    out = build({
      entryPoints: [path.join(benchDir, script)], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      packages: 'external', sourcemap: true, logLevel: 'error',
    }).then(() => outfile);
    builds.set(script, out);
  }
  return out;
}

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Measures the CPU a child used over `fn`, from its own process.cpuUsage(). */
export async function cpuOver<T>(children: BenchChild[], fn: () => Promise<T>): Promise<{ result: T; cpuSeconds: number[]; wallSeconds: number; before: ChildUsage[]; after: ChildUsage[] }> {
  const before = await Promise.all(children.map((c) => c.usage()));
  const t0 = performance.now();
  const result = await fn();
  const wallSeconds = (performance.now() - t0) / 1000;
  const after = await Promise.all(children.map((c) => c.usage()));
  const cpuSeconds = children.map((_, i) => {
    const a = after[i]!.cpu;
    const b = before[i]!.cpu;
    return (a.user - b.user + a.system - b.system) / 1e6;
  });
  return { result, cpuSeconds, wallSeconds, before, after };
}

/** What a child did between two usage readings: CPU split, round trips to PostgreSQL and Redis. */
export function usageDelta(before: ChildUsage, after: ChildUsage) {
  const diff = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(a).map(([k, v]): [string, number] => [k, v - (b[k] ?? 0)]).filter(([, v]) => v !== 0));
  return {
    userSeconds: (after.cpu.user - before.cpu.user) / 1e6,
    systemSeconds: (after.cpu.system - before.cpu.system) / 1e6,
    sql: after.counts.sql - before.counts.sql,
    redis: after.counts.redis - before.counts.redis,
    sqlByStatement: diff(after.counts.sqlByStatement, before.counts.sqlByStatement),
    redisByCommand: diff(after.counts.redisByCommand, before.counts.redisByCommand),
  };
}
