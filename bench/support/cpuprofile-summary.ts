/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. BENCH_CHILD_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof" on any benchmark): self time by function and by package or source
 * folder, and inclusive time of chosen functions.
 *
 *   node --import tsx bench/support/cpuprofile-summary.ts /tmp/prof/CPU.*.cpuprofile [--top 40] [--incl name,name]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string): string {
  if (!url) return '(native/vm)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/work\/main\/((?:src|bench|test)\/[^/]+)/.exec(url);
  if (src) return src[1]!;
  if (url.startsWith('node:')) return url.split('/')[0]!;
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

export function summarizeProfile(file: string, top = 30, inclusive: string[] = []): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => ['(idle)', '(program)', '(garbage collector)'].includes(byId.get(id)!.callFrame.functionName));
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  const incl = new Map<string, number>(inclusive.map((n) => [n, 0]));
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const pkg = n.callFrame.url ? where(n.callFrame.url) : n.callFrame.functionName;
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
    if (inclusive.length) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const name = byId.get(cur)!.callFrame.functionName;
        if (incl.has(name) && !seen.has(name)) {
          seen.add(name);
          incl.set(name, incl.get(name)! + us);
        }
      }
    }
  }
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${file}: ${(total / 1000).toFixed(0)} ms sampled; idle/program/gc: ${idle.map(([id, us]) => `${byId.get(id)!.callFrame.functionName} ${(us / 1000).toFixed(0)} ms`).join(', ')}`];
  lines.push('-- self time by package / source folder');
  for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${ms(v)}  ${k}`);
  lines.push('-- self time by function');
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${ms(v)}  ${k}`);
  if (inclusive.length) {
    lines.push('-- inclusive time');
    for (const [k, v] of incl) lines.push(`${ms(v)}  ${k}`);
  }
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('cpuprofile-summary.ts')) {
  const args = process.argv.slice(2);
  const top = args.includes('--top') ? Number(args[args.indexOf('--top') + 1]) : 30;
  const incl = args.includes('--incl') ? args[args.indexOf('--incl') + 1]!.split(',') : [];
  for (const f of args.filter((a, i) => a.endsWith('.cpuprofile') && args[i - 1] !== '--top')) console.log(summarizeProfile(f, top, incl));
}
