/**
 * Figures and how they are shown: medians and spreads over runs, latency percentiles, the machine,
 * a printed table and a JSON file under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchDir } from './child.js';

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Half the range as a percentage of the median: "±x%". */
  spreadPct: number;
  runs: number[];
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The median as the tables show it (interpolated between the middle two). */
export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const min = sorted[0] ?? Number.NaN;
  const max = sorted.at(-1) ?? Number.NaN;
  return { median, min, max, spreadPct: median ? ((max - min) / 2 / Math.abs(median)) * 100 : 0, runs: [...values] };
}

export interface Latency {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

export function latency(samples: readonly number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s.at(-1) ?? Number.NaN,
    min: s[0] ?? Number.NaN,
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
  };
}

export interface Machine {
  cores: number;
  availableParallelism: number;
  cpuModel: string;
  memoryMiB: number;
  node: string;
  platform: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export function machine(): Machine {
  return {
    cores: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export interface Row {
  metric: string;
  unit: string;
  ours: Summary;
  baseline?: Summary;
  baselineLabel?: string;
  /** ours / baseline, per run (paired), summarised. */
  ratio?: Summary;
  target?: string;
  met?: boolean | null;
}

export interface BenchResult {
  name: string;
  title: string;
  machine: Machine;
  startedAt: string;
  durationSeconds: number;
  config: Record<string, unknown>;
  rows: Row[];
  notes: string[];
  runs: unknown[];
}

export function row(metric: string, unit: string, ours: number[], more: Partial<Omit<Row, 'ours' | 'baseline' | 'ratio'>> & { baseline?: number[]; ratio?: number[] } = {}): Row {
  const { baseline, ratio, ...rest } = more;
  return {
    metric, unit, ours: summarize(ours),
    ...(baseline ? { baseline: summarize(baseline) } : {}),
    ...(ratio ? { ratio: summarize(ratio) } : {}),
    ...rest,
  };
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function cell(s: Summary | undefined): string {
  if (!s) return '';
  if (s.runs.length <= 1) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** The table for one benchmark, as text. */
export function table(result: BenchResult): string {
  const head = ['metric', 'unit', 'ours: median (min–max)', 'baseline', 'baseline: median (min–max)', 'ours/baseline', 'target', 'met'];
  const body = result.rows.map((r) => [
    r.metric, r.unit, cell(r.ours), r.baselineLabel ?? '', cell(r.baseline), r.ratio ? `${fmt(r.ratio.median)}×` : '',
    r.target ?? '', r.met === undefined || r.met === null ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const m = result.machine;
  return [
    `\n== ${result.title} ==`,
    `machine: ${m.cores} cores (${m.cpuModel}), Node ${m.node}, load average ${m.loadAverageAtStart.join(' ')} at start` +
      (m.loadAverageAtEnd ? `, ${m.loadAverageAtEnd.join(' ')} at end` : '') + `; ${result.durationSeconds.toFixed(0)} s`,
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
    ...result.notes.map((n) => `  - ${n}`),
  ].join('\n');
}

export function writeResult(result: BenchResult): string {
  const dir = path.join(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** Starts a result; `finish` stamps the end, prints the table and writes the JSON. */
export function begin(name: string, title: string, config: Record<string, unknown>) {
  const started = Date.now();
  const result: BenchResult = {
    name, title, machine: machine(), startedAt: new Date(started).toISOString(), durationSeconds: 0, config, rows: [], notes: [], runs: [],
  };
  return {
    result,
    finish(): BenchResult {
      result.durationSeconds = (Date.now() - started) / 1000;
      result.machine.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
      console.log(table(result));
      const file = writeResult(result);
      console.log(`  (written to ${path.relative(process.cwd(), file)})`);
      return result;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over items with at most `limit` at once. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}

/** True when this module is the script node was started with (`node --import tsx bench/x.ts`). */
function isMain(url: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(url).pathname);
}

/** Runs a benchmark when its file is run directly (`node --import tsx bench/<name>.ts`), exiting 0 or 1. */
export function runIfMain(url: string, benchmark: () => Promise<unknown>): void {
  if (!isMain(url)) return;
  benchmark().then(() => process.exit(0), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

export function log(msg: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}
